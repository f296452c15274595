"""Entity precision/recall/F1 on CoNLL-2003 dev: raw en_core_web_sm against Newsflow's pipeline.

Label mapping (OntoNotes -> CoNLL): PERSON -> PER; ORG -> ORG; GPE, LOC, FAC -> LOC;
NORP, EVENT, PRODUCT, LAW, WORK_OF_ART, LANGUAGE -> MISC; every other label (DATE, CARDINAL,
MONEY ...) is dropped. Newsflow's kinds map the same way: person -> PER, organisation -> ORG,
place -> LOC, misc -> MISC (misc entities are kept for this score though the article model has no
list for them).

Each CoNLL document is given to Newsflow as an article would be: the first line is the headline,
the rest the body (cleaned like any body: the dateline line such as "LONDON 1996-08-30" is marked,
and by design never yields entities). The baseline sees the raw document text. Scores are exact
span matches (start, end, type).

    uv run python bench/ner_eval.py [--data /work/shared/data/ner/conll2003_dev.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from enrich.cleaning import clean_line, clean_text
from enrich.entities import find_entities
from enrich.spacy_model import load_english

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/ner/conll2003_dev.jsonl"
ONTONOTES = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "PRODUCT": "MISC",
    "LAW": "MISC",
    "WORK_OF_ART": "MISC",
    "LANGUAGE": "MISC",
}
KINDS = {"person": "PER", "organisation": "ORG", "place": "LOC", "misc": "MISC"}
TYPES = ("PER", "ORG", "LOC", "MISC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    docs = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    gold = [{(s, e, t) for s, e, t in d["entities"]} for d in docs]
    nlp = load_english()

    started = time.perf_counter()
    baseline = [
        {(e.start_char, e.end_char, ONTONOTES[e.label_]) for e in doc.ents if e.label_ in ONTONOTES}
        for doc in nlp.pipe((d["text"] for d in docs), batch_size=32)
    ]
    baseline_s = time.perf_counter() - started

    started = time.perf_counter()
    newsflow = _newsflow(nlp, [d["text"] for d in docs])
    newsflow_s = time.perf_counter() - started

    print(f"CoNLL-2003 dev: {len(docs)} documents, {sum(map(len, gold))} gold entities")
    print("mapping: PERSON->PER, ORG->ORG, GPE/LOC/FAC->LOC, NORP/EVENT/PRODUCT/LAW/")
    print("         WORK_OF_ART/LANGUAGE->MISC; overall = PER+ORG+LOC (MISC shown apart)\n")
    _table("en_core_web_sm (raw)", gold, baseline, baseline_s)
    _table("Newsflow entities", gold, newsflow, newsflow_s)
    datelines = _dateline_gold(docs)
    trimmed = [g - d for g, d in zip(gold, datelines, strict=True)]
    print(f"\nwithout the {sum(map(len, datelines))} gold entities inside dateline lines:")
    _table(
        "en_core_web_sm (raw)",
        trimmed,
        [b - d for b, d in zip(baseline, datelines, strict=True)],
        0,
    )
    _table("Newsflow entities", trimmed, newsflow, 0)


def _newsflow(nlp, texts: list[str]) -> list[set[tuple[int, int, str]]]:
    prepared = []
    for text in texts:
        headline, _, body = text.partition("\n")
        prepared.append((text, clean_line(headline), body, clean_text(body)))
    flat = []
    for _, headline, _, clean in prepared:
        flat.extend((headline, clean.text))
    docs = list(nlp.pipe(flat, batch_size=64))
    out = []
    for index, (text, headline, body, clean) in enumerate(prepared):
        found = find_entities(docs[2 * index], docs[2 * index + 1], clean)
        body_offset = len(text) - len(body)
        body_map = _align(clean.text, body)
        head_map = _align(headline, text[: body_offset - 1])
        spans = set()
        for entity in found:
            for m in entity.mentions:
                mapping, shift = (body_map, body_offset) if m.field == "body" else (head_map, 0)
                start, end = mapping[m.start], mapping[m.end - 1] + 1
                spans.add((start + shift, end + shift, KINDS[entity.kind]))
        out.append(spans)
    return out


def _align(cleaned: str, original: str) -> list[int]:
    """Offset in `original` of every character of `cleaned` (cleaning only changes whitespace)."""
    mapping = []
    j = 0
    for ch in cleaned:
        if ch.isspace():
            if j < len(original) and original[j].isspace():
                j += 1
            mapping.append(max(j - 1, 0))
            continue
        while j < len(original) and original[j] != ch:
            j += 1
        mapping.append(min(j, len(original) - 1))
        j += 1
    return mapping


def _dateline_gold(docs: list[dict]) -> list[set[tuple[int, int, str]]]:
    out = []
    for doc in docs:
        lines = doc["text"].split("\n")
        start = len(lines[0]) + 1
        end = start + len(lines[1]) if len(lines) > 1 else start
        dateline = clean_text(lines[1]).dateline_end if len(lines) > 1 else 0
        out.append(
            {(s, e, t) for s, e, t in doc["entities"] if dateline and start <= s and e <= end}
        )
    return out


def _table(name: str, gold: list[set], predicted: list[set], seconds: float) -> None:
    counts = {t: Counter() for t in TYPES}
    for g, p in zip(gold, predicted, strict=True):
        for t in TYPES:
            gt = {x for x in g if x[2] == t}
            pt = {x for x in p if x[2] == t}
            counts[t]["tp"] += len(gt & pt)
            counts[t]["fp"] += len(pt - gt)
            counts[t]["fn"] += len(gt - pt)
    timing = f"  ({seconds:.1f} s)" if seconds else ""
    print(f"{name}{timing}")
    print(f"  {'type':8}{'P':>7}{'R':>7}{'F1':>7}{'gold':>7}")
    overall = Counter()
    for t in TYPES:
        c = counts[t]
        if t != "MISC":
            overall.update(c)
        print(f"  {t:8}" + _prf(c))
    print(f"  {'overall':8}" + _prf(overall))


def _prf(c: Counter) -> str:
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return f"{100 * p:7.1f}{100 * r:7.1f}{100 * f:7.1f}{c['tp'] + c['fn']:7d}"


if __name__ == "__main__":
    main()
