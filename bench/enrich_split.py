"""A story's model pass split across idle workers (`enrich.split`): what it changes, what it saves.

1. Agreement: every development story (the summaries' articles, which have no paragraph breaks
   and are cut after a sentence; CoNLL dev documents; the 600-word stories of bench/pipeline.py,
   80-word paragraphs, cut at a paragraph break) enriched whole and in 2 (and 3) parts, in this
   process, whatever its length; the share of stories whose model spans (the model's raw
   entities, before the rules of `entities`), entities (name and kind), keywords, summary and
   topics come out identical, entity F1 of split against whole, and each entity that differs
   with its distance in characters from the nearest cut. `--context` sets the context each
   part is read with (split.CONTEXT_CHARS), to see what it buys.
2. Latency: one story at a time through a warm `EnrichPool` of 2 processes (`enrich_wire`, as
   the service calls it), split and unsplit (the same pool, MIN_PART_CHARS set out of reach for
   the unsplit arm), and the bare model (`nlp(text)`, headline and body, in this process) on
   the same story; the three arms take turns story by story, at several story lengths.
   Wall-clock ms, median and p90 with the range over rounds, and the median of split/unsplit
   story by story; run it on a machine as idle as you can (other work on the cores slows the
   split arm, which needs two of them, most).
3. CPU, which a shared machine does not skew: a worker's task for each story (JSON in, JSON
   out, as `enrich_payload`), whole; and split in 2, each part's task and the second round's,
   in this process. The critical path (the longest part, then the second round) is what the
   split story waits for on idle cores; the total is what it costs the machine.

    uv run --frozen nice -n 10 python bench/enrich_split.py [--agreement] [--latency]
        [--rounds 3] [--stories 20] [--context CHARS]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import TypeAdapter

from shared.article import Article, Body, Headline, Source

from enrich import split
from enrich.enrichment import Enriched, Enricher
from enrich.workers import EnrichPool, chunk_payload, enrich_payload

sys.path.insert(0, str(Path(__file__).parent))
from devdata import DATA, SUMMARIES
from enrich_costs import best_cpu
from pipeline import load_texts, stories

_FIRST_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
LENGTHS = (150, 300, 600, 1200)  # words, for the latency arms
_ARTICLES = TypeAdapter(list[Article])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreement", action="store_true")
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stories", type=int, default=20, help="per length and round")
    parser.add_argument("--context", type=int, default=split.CONTEXT_CHARS)
    args = parser.parse_args()
    split.CONTEXT_CHARS = args.context
    both = not (args.agreement or args.latency)
    if args.agreement or both:
        agreement()
    if args.latency or both:
        asyncio.run(latency(args.rounds, args.stories))
        cpu(args.stories)


# -- 1. agreement --------------------------------------------------------------------------------

def dev_sets() -> dict[str, list[Article]]:
    summaries = [json.loads(line)["article"] for line in SUMMARIES.read_text().splitlines()
                 if line.strip()]
    conll = [re.sub(r" ([,.;:!?'])", r"\1", json.loads(line)["text"]) for line in
             (DATA / "ner" / "conll2003_dev.jsonl").read_text().splitlines() if line.strip()]
    pipeline = stories(load_texts(DATA), 60, 0)
    return {
        "summaries (sentence cuts)": [_article(i, *_headline_split(t)) for i, t in
                                      enumerate(summaries)],
        "CoNLL dev documents": [_article(i, *_headline_split(t)) for i, t in enumerate(conll)],
        "600-word stories (paragraph cuts)": [_article(i, h, b) for i, (h, b) in
                                              enumerate(pipeline)],
    }


def agreement() -> None:
    enricher = Enricher()
    print("Agreement of split against whole enrichment (same process, every story split; "
          f"context {split.CONTEXT_CHARS} chars)")
    print(f"  {'set':36}{'parts':>6}{'stories':>8}{'spans':>8}{'entities':>10}{'ent F1':>8}"
          f"{'keywords':>10}{'summary':>9}{'topics':>8}")
    differing: list[str] = []
    for name, articles in dev_sets().items():
        whole = [_result(enricher, a, 1) for a in articles]
        for parts in (2, 3):
            same = dict.fromkeys(("spans", "entities", "keywords", "summary", "topics"), 0)
            tp = fp = fn = 0
            for article, reference in zip(articles, whole, strict=True):
                result = _result(enricher, article, parts)
                same["spans"] += _model_spans(enricher, article, parts) == _model_spans(
                    enricher, article, 1)
                ours, theirs = _entities(result), _entities(reference)
                tp, fp, fn = tp + len(ours & theirs), fp + len(ours - theirs), fn + len(
                    theirs - ours)
                same["entities"] += ours == theirs
                same["keywords"] += result.keywords == reference.keywords
                same["summary"] += result.descriptions == reference.descriptions
                same["topics"] += [s.code for s in result.subjects] == [
                    s.code for s in reference.subjects]
                if ours != theirs:
                    differing.append(_difference(name, parts, article, enricher, ours, theirs))
            f1 = 2 * tp / (2 * tp + fp + fn) if tp else 1.0
            n = len(articles)
            print(f"  {name:36}{parts:>6}{n:>8}" + "".join(
                f"{100 * same[k] / n:>{w}.1f}%" for k, w in (("spans", 7), ("entities", 9))) +
                f"{f1:>8.3f}" + "".join(f"{100 * same[k] / n:>{w}.1f}%" for k, w in
                                         (("keywords", 9), ("summary", 8), ("topics", 7))))
    print("Entities that differ (+ split only, - whole only), chars from the nearest cut:"
          + ("" if differing else " none"))
    for line in differing:
        print(f"  {line}")


def _result(enricher: Enricher, article: Article, parts: int) -> Article:
    found = None
    if parts > 1:
        found = split.merge([split.model_part(enricher, article, part, parts)
                             for part in range(parts)])
    result = enricher.enrich_many_reported([article], {0: found} if found else None)[0]
    assert isinstance(result, Enriched), result
    return result.article


def _model_spans(enricher: Enricher, article: Article, parts: int) -> object:
    found = split.merge([split.model_part(enricher, article, part, parts)
                         for part in range(parts)])
    return found and (found.headline, found.body)


def _entities(article: Article) -> set[tuple[str, str]]:
    return {(e.name, kind) for kind, entities in (("person", article.people),
                                                  ("organisation", article.organisations),
                                                  ("place", article.places))
            for e in entities}


def _difference(name: str, parts: int, article: Article, enricher: Enricher,
                ours: set[tuple[str, str]], theirs: set[tuple[str, str]]) -> str:
    texts = enricher.model_texts(article)
    body = texts[1] if texts else ""
    cuts = split.cuts(body, parts)
    notes = []
    for sign, (entity, kind) in [*(("+", e) for e in sorted(ours - theirs)),
                                 *(("-", e) for e in sorted(theirs - ours))]:
        where = [m.start() for m in re.finditer(re.escape(entity), body)]
        near = min((abs(w - c) for w in where for c in cuts), default=None)
        notes.append(f"{sign}{entity} ({kind}, {near if near is not None else '?'})")
    return f"{name}, {parts} parts, {article.uri}: " + "; ".join(notes)


def _headline_split(text: str) -> tuple[str, str]:
    return _FIRST_SENTENCE.split(text, maxsplit=1)[0][:200], text


def _article(index: int, headline: str, body: str) -> Article:
    return Article(uri=f"urn:bench:split:{index}", source=Source(provider="bench", format="text"),
                   headlines=[Headline(value=headline)], bodies=[Body(value=body)], language="en")


# -- 2. latency ----------------------------------------------------------------------------------

async def latency(rounds: int, per_length: int) -> None:
    enricher = Enricher()  # the bare model, in this process
    pool = EnrichPool(processes=2)
    await pool.warm_up()
    texts = load_texts(DATA)
    split_at = split.MIN_PART_CHARS
    arms = ("bare nlp", "pool, unsplit", "pool, split")
    ms: dict[tuple[int, str], list[list[float]]] = {
        (n, arm): [] for n in LENGTHS for arm in arms}
    chars: dict[int, float] = {}
    try:
        for pair in stories(texts, 10, 1000):  # warm every arm
            await _time_pool(pool, _article(0, *pair))
        for r in range(rounds):
            for n in LENGTHS:
                pairs = _sized(texts, per_length, 100 * r + n, n)
                chars[n] = statistics.mean(len(b) for _, b in pairs)
                times: dict[str, list[float]] = {arm: [] for arm in arms}
                for i, (headline, body) in enumerate(pairs):
                    article = _article(i, headline, body)
                    started = time.perf_counter()
                    enricher.nlp(f"{headline}\n\n{body}")
                    times["bare nlp"].append(time.perf_counter() - started)
                    # The pool arms take turns at going first; for the unsplit arm no story
                    # is long enough to split.
                    for arm in sorted(arms[1:], reverse=i % 2 == 1):
                        split.MIN_PART_CHARS = split_at if arm == "pool, split" else 10**9
                        times[arm].append(await _time_pool(pool, article))
                    split.MIN_PART_CHARS = split_at
                for arm in arms:
                    ms[(n, arm)].append([1000 * t for t in times[arm]])
            print(f"round {r + 1}/{rounds} done", flush=True)
    finally:
        split.MIN_PART_CHARS = split_at
        pool.close()
    print(f"One story at a time, ms wall (median, p90 of {per_length} stories a round; range "
          f"over {rounds} rounds); pool of 2 processes; MIN_PART_CHARS = {split_at}")
    print(f"  {'words':>6}{'chars':>7}  " + "".join(f"{arm:>30}" for arm in arms)
          + f"{'split/bare p50':>16}{'unsplit/bare':>14}{'split/unsplit':>15}")
    for n in LENGTHS:
        cells = []
        medians = {}
        for arm in arms:
            p50 = [statistics.median(v) for v in ms[(n, arm)]]
            p90 = [sorted(v)[int(0.9 * (len(v) - 1))] for v in ms[(n, arm)]]
            medians[arm] = statistics.median(p50)
            cells.append(f"{min(p50):.0f}-{max(p50):.0f} / {min(p90):.0f}-{max(p90):.0f}")
        # Story by story (the same story, a moment apart): less swayed by the machine's load.
        paired = [s / u for rs, ru in zip(ms[(n, "pool, split")], ms[(n, "pool, unsplit")],
                                           strict=True) for s, u in zip(rs, ru, strict=True)]
        print(f"  {n:>6}{chars[n]:>7.0f}  " + "".join(f"{c:>30}" for c in cells)
              + f"{medians['pool, split'] / medians['bare nlp']:>16.2f}"
              + f"{medians['pool, unsplit'] / medians['bare nlp']:>14.2f}"
              + f"{statistics.median(paired):>15.2f}")


def cpu(per_length: int, repeat: int = 3) -> None:
    enricher = Enricher()
    texts = load_texts(DATA)
    print(f"CPU ms per story (best of {repeat}), split in 2 against whole, in one process")
    print(f"  {'words':>6}{'whole':>8}{'part 0':>8}{'part 1':>8}{'round 2':>9}"
          f"{'critical path':>15}{'/ whole':>9}{'total':>8}{'/ whole':>9}")
    for n in LENGTHS:
        articles = [_article(i, h, b) for i, (h, b) in enumerate(_sized(texts, per_length, 7, n))]
        ms = _cpu_ms(enricher, articles, repeat)
        critical = max(ms["part 0"], ms["part 1"]) + ms["round 2"]
        total = ms["part 0"] + ms["part 1"] + ms["round 2"]
        print(f"  {n:>6}{ms['whole']:>8.1f}{ms['part 0']:>8.1f}{ms['part 1']:>8.1f}"
              f"{ms['round 2']:>9.1f}{critical:>15.1f}{critical / ms['whole']:>9.2f}"
              f"{total:>8.1f}{total / ms['whole']:>9.2f}")


def _cpu_ms(enricher: Enricher, articles: list[Article], repeat: int) -> dict[str, float]:
    """CPU ms per story of each task a worker runs for these stories, whole and in 2 parts."""
    payloads = [chunk_payload([a]) for a in articles]
    found = [split.merge([split.model_part(enricher, a, p, 2) for p in range(2)])
             for a in articles]

    def part(index: int) -> None:
        for payload in payloads:  # the article decoded as a worker does
            split.model_part(enricher, _ARTICLES.validate_json(payload)[0], index, 2)

    steps: dict[str, Callable[[], object]] = {
        "whole": lambda: [enrich_payload(enricher, p) for p in payloads],
        "part 0": lambda: part(0),
        "part 1": lambda: part(1),
        "round 2": lambda: [enrich_payload(enricher, p, f) for p, f in
                            zip(payloads, found, strict=True)],
    }
    return {name: 1000 * t / len(articles) for name, t in best_cpu(steps, repeat).items()}


async def _time_pool(pool: EnrichPool, article: Article) -> float:
    started = time.perf_counter()
    result = (await pool.enrich_wire([article]))[0]
    elapsed = time.perf_counter() - started
    assert not isinstance(result, Exception), result
    return elapsed


def _sized(texts: list[str], count: int, start: int, words: int) -> list[tuple[str, str]]:
    """Stories of `words` words in paragraphs of 80, as bench/pipeline.py builds them."""
    out = []
    for headline, body in stories(texts, count, start):
        all_words = body.split()
        while len(all_words) < words:
            all_words += all_words
        kept = all_words[:words]
        out.append((headline, "\n\n".join(" ".join(kept[j:j + 80])
                                          for j in range(0, words, 80))))
    return out


if __name__ == "__main__":
    main()
