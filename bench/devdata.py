"""Where the benches find the development data: the nearest ``shared/data`` above the
repository (``../shared/data`` beside a checkout), whatever the checkout's folder is called."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = next((d / "shared" / "data" for d in ROOT.parents if (d / "shared" / "data").is_dir()),
            ROOT.parent / "shared" / "data")
SUMMARIES = DATA / "summaries" / "news_summaries_dev.jsonl"
