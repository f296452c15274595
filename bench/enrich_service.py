"""Enrich throughput: the real service (Redis in, Redis out) against bare ``nlp.pipe``, one run.

Both sides get the same articles (news articles of about 600 words built from the summaries
development data), the same spaCy model and components (the service's own `load_english()`:
tokenizer + ner, see enrich/spacy_model.py) and the same number of
processes (the cores). The service side is the whole ``python -m enrich`` process: it reads
``news.ingested`` in batches, cleans, detects language, finds entities, keywords, topics and a
summary in its worker pool, and writes ``news.enriched``. Goal: ratio >= 0.9.

    uv run python bench/enrich_service.py [--data ../shared/data/summaries/news_summaries_dev.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import redis
from devdata import SUMMARIES

from shared.article import Article, Source
from shared.events import ENRICHED_STREAM, INGESTED_STREAM, ArticleIngested

from enrich.spacy_model import BATCH_SIZE, load_english
from newsflow_cli.platform import Platform

DEFAULT_DATA = SUMMARIES
WORDS = 600


def articles(path: Path, n: int) -> list[tuple[str, str]]:
    """(headline, body) pairs of about WORDS words, cycling through the data set."""
    texts = [json.loads(line)["article"] for line in path.read_text().splitlines() if line]
    out = []
    for i in range(n):
        words = " ".join(texts[(i + k) % len(texts)] for k in range(3)).split()
        body = " ".join(words[:WORDS])
        paragraphs = [" ".join(body.split()[j:j + 80]) for j in range(0, WORDS, 80)]
        out.append((" ".join(words[:10]), "\n\n".join(paragraphs)))
    return out


def _bare_chunk(texts: list[str]) -> int:
    nlp = load_english()  # exactly the components the service runs
    return sum(len(doc.ents) for doc in nlp.pipe(texts, batch_size=BATCH_SIZE))


def bare(texts: list[str], processes: int) -> float:
    # Chunked like the service's pool (several chunks per worker), so neither side idles on
    # a straggler the other does not have.
    parts = processes * 4
    chunks = [texts[i::parts] for i in range(parts)]
    with ProcessPoolExecutor(processes) as pool:
        list(pool.map(_bare_chunk, [c[:2] for c in chunks]))  # load the models first
        started = time.perf_counter()
        list(pool.map(_bare_chunk, chunks))
        return time.perf_counter() - started


def service(pairs: list[tuple[str, str]], redis_url: str, processes: int) -> float:
    prefix = f"bench-{secrets.token_hex(3)}:"
    client = redis.Redis.from_url(redis_url)
    with tempfile.TemporaryDirectory() as workdir:
        platform = Platform(workdir=Path(workdir), redis_url=redis_url, stream_prefix=prefix,
                            mongodb_uri="mongodb://unused",
                            extra_env={"NEWSFLOW_WORKERS": str(processes),
                                       "NEWSFLOW_BLOCK_MS": "20"})
        platform.start_service("enrich")
        try:
            platform.wait_ready(timeout=120, names=("enrich",))
            warm = [_event(h, b) for h, b in pairs[:processes * 2]]
            _push(client, prefix + INGESTED_STREAM, warm)
            _wait(client, prefix + ENRICHED_STREAM, len(warm))
            events = [_event(h, b) for h, b in pairs]
            started = time.perf_counter()
            _push(client, prefix + INGESTED_STREAM, events)
            _wait(client, prefix + ENRICHED_STREAM, len(warm) + len(events))
            return time.perf_counter() - started
        finally:
            platform.stop()
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)


def _event(headline: str, body: str) -> ArticleIngested:
    article = Article(uri=f"urn:bench:{secrets.token_hex(8)}", version=1,
                      source=Source(provider="bench", format="json"),
                      headlines=[{"value": headline}], bodies=[{"value": body}])
    return ArticleIngested.for_article(article, "bench")  # type: ignore[return-value]


def _push(client: redis.Redis, stream: str, events: list[ArticleIngested]) -> None:
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.xadd(stream, event.to_fields())
    pipe.execute()


def _wait(client: redis.Redis, stream: str, n: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while client.xlen(stream) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {client.xlen(stream)} of {n} enriched within {timeout}s")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=300, help="articles")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    pairs = articles(args.data, args.n)
    words = sum(len(h.split()) + len(b.split()) for h, b in pairs)
    texts = [f"{h}\n\n{b}" for h, b in pairs]
    # Bare before and after the service, averaged: the machine's load drifts during a run.
    first = bare(texts, args.processes)
    service_s = service(pairs, args.redis_url, args.processes)
    bare_s = (first + bare(texts, args.processes)) / 2
    print(f"{args.n} articles, {words / args.n:.0f} words each, {args.processes} processes")
    print(f"  bare nlp.pipe (same model):    {args.n / bare_s:7.1f} articles/s "
          f"({words / bare_s:,.0f} words/s)")
    print(f"  enrich service, Redis to Redis: {args.n / service_s:7.1f} articles/s "
          f"({words / service_s:,.0f} words/s)")
    print(f"  ratio service / bare: {bare_s / service_s:.2f}  (goal >= 0.9)")


if __name__ == "__main__":
    main()
