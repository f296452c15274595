"""ROUGE-1/2/L F1 of Newsflow's extractive summary against lead-3, on CNN/Daily Mail dev stories.

The stories are split in two fixed halves by a hash of their id: "tune" (where summary changes
are tried) and "held-out" (only reported). A change is kept only if it helps on both. Every
system sees the same cleaned text and the same sentence splitter; lead-3 is the first three
sentences. Scores use rouge-score with the Porter stemmer (its tokenizer lower-cases and drops
punctuation, so article and reference are tokenised alike); ROUGE-L is summary-level (Lsum) with
one sentence per line, as the references are written. `--compare REV` also scores the summariser
as it was at git revision REV, in the same run.

    uv run python bench/summary_eval.py [--data PATH/news_summaries_dev.jsonl] [--compare REV]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from statistics import mean

from rouge_score import rouge_scorer

from enrich.cleaning import CleanText, clean_text
from enrich.summary import split_sentences, summarize

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared/data/summaries/news_summaries_dev.jsonl"
METRICS = ("rouge1", "rouge2", "rougeLsum")
SUMMARY_MODULE = "services/enrich/src/enrich/summary.py"

Summariser = Callable[[CleanText], list[str]]


def half(story_id: str) -> str:
    """The fixed half a story belongs to, from a hash of its id."""
    return "tune" if hashlib.sha256(story_id.encode()).digest()[0] % 2 == 0 else "held-out"


def lead3(clean: CleanText) -> list[str]:
    return [clean.text[s.start : s.end] for s in split_sentences(clean)[:3]]


def summariser_at(revision: str) -> Summariser:
    """`summarize` as it was at a git revision (its module loaded from `git show`)."""
    source = subprocess.run(
        ["git", "show", f"{revision}:{SUMMARY_MODULE}"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    name = f"summary_at_{revision.replace('/', '_').replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(name, handle.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.summarize  # type: ignore[no-any-return]


def score(
    items: list[dict[str, str]], systems: dict[str, Summariser]
) -> dict[str, dict[str, tuple[list[float], ...]]]:
    """Per half, per system: the per-story F1 of each metric and the summary lengths."""
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    out: dict[str, dict[str, tuple[list[float], ...]]] = {}
    for item in items:
        clean = clean_text(item["article"])
        rows = out.setdefault(half(item["id"]), {})
        for name, system in systems.items():
            summary = system(clean)
            scores = scorer.score(item["reference"], "\n".join(summary))
            cells = rows.setdefault(name, tuple([] for _ in range(len(METRICS) + 1)))
            for index, metric in enumerate(METRICS):
                cells[index].append(100 * scores[metric].fmeasure)
            cells[-1].append(float(len(summary)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--compare", metavar="REV", help="also score the summariser at REV")
    args = parser.parse_args()
    items = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    systems: dict[str, Summariser] = {"lead-3": lead3, "newsflow": summarize}
    if args.compare:
        systems[args.compare[:12]] = summariser_at(args.compare)
    results = score(items, systems)
    print("ROUGE F1 x100 (stemmed); delta = system minus lead-3")
    for name in ("tune", "held-out"):
        rows = results.get(name, {})
        count = len(next(iter(rows.values()))[0]) if rows else 0
        print(f"{name} half: {count} stories")
        print(f"  {'system':14}{'R-1':>8}{'R-2':>8}{'R-L':>8}{'sents':>7}   delta R-1/R-2/R-L")
        base = [mean(values) for values in rows["lead-3"][:-1]]
        for system, cells in rows.items():
            means = [mean(values) for values in cells[:-1]]
            deltas = "/".join(f"{m - b:+.2f}" for m, b in zip(means, base, strict=True))
            print(f"  {system:14}{''.join(f'{m:8.2f}' for m in means)}{mean(cells[-1]):7.2f}"
                  f"   {deltas}")


if __name__ == "__main__":
    main()
