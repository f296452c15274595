"""ROUGE-1/2/L F1 of Newsflow's extractive summary against lead-3, on CNN/Daily Mail dev stories.

The stories are split in two fixed halves by a hash of their id: "tune" (where summary changes
are tried) and "held-out" (only reported). A change is kept only if it helps on both. Every
system sees the same cleaned text and the same sentence splitter; lead-3 is the first three
sentences. Scores use rouge-score with the Porter stemmer (its tokenizer lower-cases and drops
punctuation, so article and reference are tokenised alike); ROUGE-L is summary-level (Lsum) with
one sentence per line, as the references are written. `--compare REV` also scores the summariser
as it was at git revision REV, in the same run (its summary and compression modules; cleaning and
the dateline it marks are today's for every system, lead-3 included).

With 20 stories a half, one story moves a half's mean by several points, so the same run also
gives, over all stories, each system's mean gain on lead-3 with a 95% paired bootstrap interval
(stories resampled with replacement, SEED fixed) and the share of random 50/50 splits in which
the gain holds on both halves: a gain that is real shows an interval above zero and a share near 1.

    uv run python bench/summary_eval.py [--data PATH/news_summaries_dev.jsonl] [--compare REV]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable
from pathlib import Path
from statistics import mean

from devdata import SUMMARIES
from rouge_score import rouge_scorer

from enrich.cleaning import CleanText, clean_text
from enrich.summary import split_sentences, summarize

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = SUMMARIES
METRICS = ("rouge1", "rouge2", "rougeLsum")
SUMMARY_MODULE = "services/enrich/src/enrich/summary.py"
# Loaded beside the summary module from the same revision when it exists there.
SIBLING_MODULES = ("compression",)
RESAMPLES = 2000
SEED = 2026

Summariser = Callable[[CleanText], list[str]]


def half(story_id: str) -> str:
    """The fixed half a story belongs to, from a hash of its id."""
    return "tune" if hashlib.sha256(story_id.encode()).digest()[0] % 2 == 0 else "held-out"


def lead3(clean: CleanText) -> list[str]:
    return [clean.text[s.start : s.end] for s in split_sentences(clean)[:3]]


def summariser_at(revision: str) -> Summariser:
    """`summarize` as it was at a git revision (its module loaded from `git show`, and the
    modules beside it that it imports from that revision too)."""
    tag = revision.replace("/", "_").replace("-", "_")
    source = _source_at(revision, SUMMARY_MODULE)
    assert source is not None, f"{SUMMARY_MODULE} is not in {revision}"
    for sibling in SIBLING_MODULES:
        path = str(Path(SUMMARY_MODULE).with_name(f"{sibling}.py"))
        sibling_source = _source_at(revision, path)
        if sibling_source is None:
            continue
        module_name = f"{sibling}_at_{tag}"
        _load(module_name, sibling_source)
        source = source.replace(f"from enrich.{sibling} import", f"from {module_name} import")
    return _load(f"summary_at_{tag}", source).summarize  # type: ignore[no-any-return]


def _source_at(revision: str, path: str) -> str | None:
    done = subprocess.run(
        ["git", "show", f"{revision}:{path}"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout if done.returncode == 0 else None


def _load(name: str, source: str) -> types.ModuleType:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location(name, handle.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def score(
    items: list[dict[str, str]], systems: dict[str, Summariser]
) -> dict[str, dict[str, tuple[list[float], ...]]]:
    """Per half (and "all"), per system: the per-story F1 of each metric and the summary
    lengths."""
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    out: dict[str, dict[str, tuple[list[float], ...]]] = {}
    for item in items:
        clean = clean_text(item["article"])
        for name, system in systems.items():
            summary = system(clean)
            scores = scorer.score(item["reference"], "\n".join(summary))
            for group in (half(item["id"]), "all"):
                rows = out.setdefault(group, {})
                cells = rows.setdefault(name, tuple([] for _ in range(len(METRICS) + 1)))
                for index, metric in enumerate(METRICS):
                    cells[index].append(100 * scores[metric].fmeasure)
                cells[-1].append(float(len(summary)))
    return out


def gain_statistics(gains: list[float], rng: random.Random) -> tuple[float, float, float, float]:
    """Mean per-story gain, its 95% paired bootstrap interval, and the share of random 50/50
    splits of the stories in which both halves gain."""
    count = len(gains)
    means = sorted(
        mean(gains[rng.randrange(count)] for _ in range(count)) for _ in range(RESAMPLES)
    )
    low, high = means[int(0.025 * RESAMPLES)], means[int(0.975 * RESAMPLES) - 1]
    both = 0
    order = list(range(count))
    for _ in range(RESAMPLES):
        rng.shuffle(order)
        first, second = order[: count // 2], order[count // 2 :]
        both += mean(gains[i] for i in first) > 0 and mean(gains[i] for i in second) > 0
    return mean(gains), low, high, both / RESAMPLES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--compare", metavar="REV", help="also score the summariser at REV")
    args = parser.parse_args()
    if not args.data.is_file():
        parser.error(f"--data: {args.data} is not a file (the summaries' JSON lines, like "
                     f"{SUMMARIES})")
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
            print(
                f"  {system:14}{''.join(f'{m:8.2f}' for m in means)}{mean(cells[-1]):7.2f}"
                f"   {deltas}"
            )
    everything = results["all"]
    print(
        f"all {len(everything['lead-3'][0])} stories: gain on lead-3 [95% paired bootstrap"
        f" interval], share of {RESAMPLES} random 50/50 splits where both halves gain"
    )
    for system, cells in everything.items():
        if system == "lead-3":
            continue
        parts = []
        for index, metric in enumerate(("R-1", "R-2", "R-L")):
            gains = [o - b for o, b in zip(cells[index], everything["lead-3"][index], strict=True)]
            gain, low, high, share = gain_statistics(gains, random.Random(SEED))
            parts.append(f"{metric} {gain:+.2f} [{low:+.2f}, {high:+.2f}] {share:4.2f}")
        print(f"  {system:14}" + "   ".join(parts))


if __name__ == "__main__":
    main()
