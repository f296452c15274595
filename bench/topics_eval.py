"""Top-1 / top-3 accuracy of the top-level IPTC Media Topic on unseen full-length news, per desk.

Data: MasakhaNEWS (Adelani et al. 2023; BBC stories collected in 2022 with the desk they were
published under; repository masakhane-io/masakhane-news @ 819be052e79e,
`data/<lang>/{dev,test}.tsv`, its labels as published). The topic model never saw it: its
training data are other sources (see `services/enrich/scripts/train_topics.py`). The dev and
test splits of each language are pooled and halved by a hash of the story url: the `tune`
half was used to choose the model's settings, the `report` half (the default) is the figure to
quote. Desk -> top-level topic: business 04 (economy, business and finance), entertainment 01
(arts, culture, entertainment and media), health 07, politics 11, sports 15, technology 13
(science and technology).

Baselines in the same run: the topic classifier as shipped at `--model-commit` (its code,
thresholds included, and its weights, read from git history; the default, 80e44b3, is the one
with the 0.2 / 0.1 confidence floors), and, with `--keywords-commit`, the keyword-list
classifier Newsflow shipped before any model, its old codes translated with the migration table
(`shared/data/medtop_migration.json`). Also printed: CPU microseconds per story for each, and
per language how often the first topic is wrong with confidence >= 0.5, or there is none.
"five desks" is the overall figure without health (business, entertainment, politics, sports,
technology).
French is not an unseen source: the model learnt from the French tune half (see the training
script); Hausa and Swahili it never saw.

    nice -n 10 uv run --frozen python bench/topics_eval.py --corpora /path/to/corpora \
        [--half report|tune|both] [--languages eng,fra,hau,swa] [--model-commit 80e44b3]
        [--keywords-commit fd0faaf]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import subprocess
import sys
import time
import types
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.medtop_migration import migrate_code

from enrich.topics import MODEL_FILE, TopicClassifier

REPO = Path(__file__).resolve().parents[1]
MASAKHANE = "masakhane-io+masakhane-news/data"
DESKS = {
    "business": "04",
    "entertainment": "01",
    "health": "07",
    "politics": "11",
    "sports": "15",
    "technology": "13",
}
CONFIDENT = 0.5
LANGUAGES = {"eng": "en", "fra": "fr", "hau": "ha", "swa": "sw"}
Story = tuple[str, str, str]  # headline, body, desk
Ranker = Callable[[str, str, str], list[tuple[str, float]]]  # top-level codes "NN", best first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--half", choices=("report", "tune", "both"), default="report")
    parser.add_argument("--languages", default="eng,fra,hau,swa")
    parser.add_argument(
        "--model-commit",
        default="80e44b3",
        help="the shipped weights to compare with ('' for none)",
    )
    parser.add_argument(
        "--keywords-commit", default="", help="the keyword classifier to compare with, e.g. fd0faaf"
    )
    args = parser.parse_args()
    model = TopicClassifier()
    rankers: dict[str, Ranker] = {
        "model": lambda h, b, language: _codes(model.classify(h, b, language), str)
    }
    if args.model_commit:
        shipped = _shipped_classifier(args.model_commit)
        rankers[f"@{args.model_commit}"] = lambda h, b, language: _codes(
            shipped.classify(h, b, language), str
        )
    if args.keywords_commit:
        old = _old_classifier(args.keywords_commit)
        rankers["old keywords"] = lambda h, b, language: _codes(old.classify(h, b), migrate_code)
    halves = ("tune", "report") if args.half == "both" else (args.half,)
    for language in args.languages.split(","):
        for half in halves:
            stories = load(args.corpora, language, half)
            note = {
                "hau": " (not trained on)",
                "swa": " (not trained on)",
                "fra": " (the model learnt from the other half)",
            }.get(language, "")
            print(f"\n{language}{note}: {len(stories)} stories ({half} half)")
            _accuracy(stories, rankers, LANGUAGES[language])
    sentence = ("Markets rise", "Shares rose on Monday after the central bank held rates.")
    for name, rank in rankers.items():
        started = time.process_time()
        for _ in range(2000):
            rank(*sentence, "en")
        print(f"one-sentence story, {name}: {(time.process_time() - started) / 2000 * 1e6:.0f} µs")


def load(root: Path, language: str, half: str) -> list[Story]:
    stories = []
    for split in ("dev", "test"):
        with (root / MASAKHANE / language / f"{split}.tsv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                digest = hashlib.sha1(row["url"].encode()).digest()[0]
                if (digest % 2 == 1) == (half == "report") and row["category"] in DESKS:
                    stories.append((row["headline"], row["text"], row["category"]))
    return stories


def _accuracy(stories: list[Story], rankers: dict[str, Ranker], language: str) -> None:
    header = "".join(f"{name + ' top1':>18}{'top3':>7}" for name in rankers)
    print(f"  {'desk':14}{'n':>5}{header}")
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_desk: dict[str, list[Story]] = defaultdict(list)
    for story in stories:
        by_desk[story[2]].append(story)
    cost = {}
    wrong: dict[str, int] = defaultdict(int)
    abstain: dict[str, int] = defaultdict(int)
    for name, rank in rankers.items():
        started = time.process_time()
        for headline, body, desk in stories:
            ranked = rank(headline, body, language)
            codes = [c for c, _ in ranked]
            totals[f"{name}|{desk}"][0] += codes[:1] == [DESKS[desk]]
            totals[f"{name}|{desk}"][1] += DESKS[desk] in codes[:3]
            abstain[name] += not ranked
            wrong[name] += bool(ranked) and codes[0] != DESKS[desk] and ranked[0][1] >= CONFIDENT
        cost[name] = (time.process_time() - started) / len(stories) * 1e6
    for desk in sorted(by_desk):
        n = len(by_desk[desk])
        cells = "".join(
            f"{totals[f'{m}|{desk}'][0] / n:18.0%}{totals[f'{m}|{desk}'][1] / n:7.0%}"
            for m in rankers
        )
        print(f"  {desk:14}{n:5}{cells}")
    n = len(stories)
    cells = "".join(
        f"{sum(totals[f'{m}|{d}'][0] for d in by_desk) / n:18.1%}"
        f"{sum(totals[f'{m}|{d}'][1] for d in by_desk) / n:7.1%}"
        for m in rankers
    )
    print(f"  {'overall':14}{n:5}{cells}")
    five = [d for d in by_desk if d != "health"]
    n5 = sum(len(by_desk[d]) for d in five)
    if n5 and n5 != n:
        cells = "".join(
            f"{sum(totals[f'{m}|{d}'][0] for d in five) / n5:18.1%}"
            f"{sum(totals[f'{m}|{d}'][1] for d in five) / n5:7.1%}"
            for m in rankers
        )
        print(f"  {'five desks':14}{n5:5}{cells}")
    for m in rankers:
        print(
            f"  {m}: first topic wrong with confidence >= {CONFIDENT}: {wrong[m] / n:.1%},"
            f" no topic: {abstain[m] / n:.1%}"
        )
    print("  CPU per story: " + ", ".join(f"{m} {us:.0f} µs" for m, us in cost.items()))


def _codes(subjects: list[Any], translate: Callable[[str], str]) -> list[tuple[str, float]]:
    return [(translate(s.code).split(":")[1][:2], s.confidence) for s in subjects if s.level == 1]


def _show(commit: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "-C", str(REPO), "show", f"{commit}:{path}"], check=True, capture_output=True
    ).stdout


def _shipped_classifier(commit: str) -> Any:
    """The topic model as shipped at `commit`: its classifier code (thresholds included) and
    its weights, on today's vocabulary."""
    module = types.ModuleType("shipped_topics")
    sys.modules["shipped_topics"] = module
    source = _show(commit, "services/enrich/src/enrich/topics.py").decode()
    exec(compile(source, "shipped_topics.py", "exec"), module.__dict__)
    return module.TopicClassifier(_show(commit, f"services/enrich/src/enrich/{MODEL_FILE}"))


def _old_classifier(commit: str) -> Any:
    """The keyword classifier as it was at `commit`, with its own keyword table."""
    table = _show(commit, "services/enrich/src/enrich/data/medtop.json").decode()
    source = _show(commit, "services/enrich/src/enrich/topics.py").decode()
    loader = r"json\.loads\(resources\.files\(\"enrich\"\)\.joinpath\([^)]*\)\.read_text\(\)\)"
    source = re.sub(loader, "json.loads(_TABLE)", source)
    module = types.ModuleType("old_topics")
    module.__dict__["_TABLE"] = table
    sys.modules["old_topics"] = module
    exec(compile(source, "old_topics.py", "exec"), module.__dict__)
    return module.TopicClassifier()


if __name__ == "__main__":
    main()
