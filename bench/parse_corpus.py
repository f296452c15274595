"""Parse a folder of real agency files: per-file outcome, totals, crashes and throughput.

uv run python bench/parse_corpus.py [DIR]     (default: ../shared/data/feeds)
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import structlog

from ingest.errors import IngestError
from ingest.parsing import FORMATS, parse_document

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO.parent / "shared" / "data" / "feeds"
THROUGHPUT_SECONDS = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    # Item-level warnings would drown the report; the report prints the reasons itself.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    files = sorted(
        p for p in args.directory.rglob("*") if p.is_file() and not p.name.startswith(".")
    )
    if not files:
        print(f"no files under {args.directory}")
        return 1

    items = 0
    by_format: Counter[str] = Counter()
    rejected: list[tuple[str, str]] = []
    crashes: list[tuple[str, str]] = []
    for path in files:
        name = str(path.relative_to(args.directory))
        try:
            parsed = parse_document(path.read_bytes(), provider="bench")
        except IngestError as error:
            rejected.append((name, f"{error.code}: {error.message}"))
            print(f"{name:60} REJECTED  {error.code}: {error.message}")
            continue
        except Exception as error:  # the number the bench exists to keep at zero
            crashes.append((name, f"{type(error).__name__}: {error}"))
            print(f"{name:60} CRASH     {type(error).__name__}: {error}")
            traceback.print_exc()
            continue
        items += len(parsed.articles)
        by_format[parsed.format] += len(parsed.articles)
        note = f"  ({len(parsed.rejections)} item(s) refused)" if parsed.rejections else ""
        if not parsed.articles:
            reasons = "; ".join(r.error.message for r in parsed.rejections[:3])
            rejected.append((name, f"invalid_article: {reasons}"))
            print(f"{name:60} REJECTED  invalid_article: {reasons}")
        else:
            print(f"{name:60} {parsed.format:11} {len(parsed.articles):3} item(s){note}")

    print()
    print(f"files: {len(files)}")
    print(
        f"items parsed: {items}  "
        + ", ".join(f"{f}={by_format[f]}" for f in FORMATS if by_format[f])
    )
    print(f"rejected files: {len(rejected)}")
    for name, reason in rejected:
        print(f"  {name}: {reason}")
    print(f"crashes: {len(crashes)}")
    for name, reason in crashes:
        print(f"  {name}: {reason}")

    print()
    for label, pattern in (("NewsML-G2", "newsml-g2/*.xml"), ("RSS", "rss/*")):
        sample = _largest_parsable(args.directory, pattern)
        if sample is None:
            print(f"throughput {label}: no parsable sample under {pattern}")
            continue
        rate, per_document = _throughput(sample)
        print(
            f"throughput {label}: {rate:,.0f} items/s "
            f"({sample.name}, {per_document} item(s) per document)"
        )
    return 1 if crashes else 0


def _largest_parsable(directory: Path, pattern: str) -> Path | None:
    for path in sorted(directory.glob(pattern), key=lambda p: p.stat().st_size, reverse=True):
        try:
            if parse_document(path.read_bytes(), provider="bench").articles:
                return path
        except Exception:  # any failure just disqualifies the sample
            continue
    return None


def _throughput(path: Path) -> tuple[float, int]:
    raw = path.read_bytes()
    per_document = len(parse_document(raw, provider="bench").articles)
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < THROUGHPUT_SECONDS or runs < 20:
        parse_document(raw, provider="bench")
        runs += 1
    elapsed = time.perf_counter() - started
    return runs * per_document / elapsed, per_document


if __name__ == "__main__":
    sys.exit(main())
