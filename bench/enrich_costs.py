"""What the enrichment around the NER model costs: µs per story per step, beside the model's.

Side by side in one run, on realistic stories (the summaries dataset's articles, ~600 words, with
their first sentence as headline) and on one-sentence stories: cleaning, language detection,
summary, topics, entity post-processing and keywords (each called as the Enricher calls it),
and the NER model itself (`nlp.pipe` over headline and body, batched as in a worker); then the
whole `Enricher` (all of it: article models in and out included), a worker's whole task
(the chunk as JSON bytes in, the outcomes as JSON bytes out, as they cross the process
boundary; its heap settled after loading, as in a worker), and the reference that
bench/pipeline.py holds the service to: bare `nlp.pipe` over each story's headline and body
joined in one text. Times are CPU seconds of this process (other jobs on a shared machine do
not count); the steps take turns, repeated, and each step's best repeat counts.

    uv run python bench/enrich_costs.py [--data PATH/news_summaries_dev.jsonl] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from devdata import SUMMARIES

from shared.article import Article, Body, Headline, Source
from shared.runtime import settle_heap

from enrich.cleaning import CleanText, clean_line, clean_text
from enrich.enrichment import MAX_NER_CHARS, MAX_NLP_CHARS, Enricher
from enrich.entities import find_entities
from enrich.keywords import extract_keywords
from enrich.summary import summarize
from enrich.workers import chunk_payload, enrich_payload

DEFAULT_DATA = SUMMARIES
AROUND = ("cleaning", "language", "summary", "topics", "entities", "keywords")
_FIRST_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
ONE_SENTENCE = [
    ("Storm hits coast", "A storm hit the coast of Florida on Monday, officials said."),
    ("Rates held", "The European Central Bank kept its rates unchanged on Thursday."),
    ("Talks resume", "Delegations met in Istanbul to resume peace talks."),
    ("Match report", "Arsenal beat Chelsea 2-1 at the Emirates Stadium on Saturday."),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    stories = []
    for line in args.data.read_text().splitlines():
        if line.strip():
            text = json.loads(line)["article"]
            stories.append((_FIRST_SENTENCE.split(text, maxsplit=1)[0][:200], text))
    enricher = Enricher()
    settle_heap()  # as a worker does once its models are loaded
    sets = {"dev stories": stories, "one sentence": ONE_SENTENCE * 10}
    rows = {name: _costs(enricher, pairs, args.repeat) for name, pairs in sets.items()}
    print(f"CPU µs per story (best of {args.repeat}); share = step / NER model")
    header = "".join(f"{name:>22}" for name in rows)
    print(f"  {'step':12}{header}")
    for step in (*AROUND, "around total", "ner model", "enricher", "worker", "bare joined"):
        cells = "".join(
            f"{costs[step]:12.0f} {100 * costs[step] / costs['ner model']:7.1f}%"
            for costs in rows.values()
        )
        print(f"  {step:12}{cells}")
    print("worker / bare joined: " + ", ".join(
        f"{name} {costs['worker'] / costs['bare joined']:.3f}" for name, costs in rows.items()))
    words = sum(len(text.split()) for _, text in stories) / len(stories)
    print(f"dev stories: {len(stories)}, {words:.0f} words on average; "
          f"one sentence: {len(sets['one sentence'])}")


def _costs(
    enricher: Enricher, pairs: list[tuple[str, str]], repeat: int
) -> dict[str, float]:
    nlp, languages, topics = enricher.nlp, enricher.languages, enricher.topics
    headlines = [clean_line(h) for h, _ in pairs]
    cleans: list[CleanText] = [clean_text(body) for _, body in pairs]
    texts = [t for h, c in zip(headlines, cleans, strict=True) for t in (h, c.text[:MAX_NER_CHARS])]
    docs = list(nlp.pipe(texts, batch_size=enricher.batch_size))
    found = [find_entities(docs[2 * i], docs[2 * i + 1], c) for i, c in enumerate(cleans)]
    indexed = list(enumerate(zip(headlines, cleans, strict=True)))
    articles = [
        Article(uri=f"urn:bench:{i}", source=Source(provider="bench", format="text"),
                headlines=[Headline(value=h)], bodies=[Body(value=b)], language="en")
        for i, (h, b) in enumerate(pairs)
    ]
    payload = chunk_payload(articles)
    joined = [f"{h}\n\n{b}" for h, b in pairs]
    steps: dict[str, Callable[[], object]] = {
        "cleaning": lambda: [(clean_line(h), clean_text(b)) for h, b in pairs],
        "language": lambda: [languages.resolve("en", f"{h}\n{c.text}") for _, (h, c) in indexed],
        "summary": lambda: [summarize(c, h) for _, (h, c) in indexed],
        "topics": lambda: [topics.classify(h, c.text[:MAX_NLP_CHARS], "en")
                           for _, (h, c) in indexed],
        "entities": lambda: [find_entities(docs[2 * i], docs[2 * i + 1], c)
                             for i, (_, c) in indexed],
        "keywords": lambda: [extract_keywords(docs[2 * i + 1], c, found[i])
                             for i, (_, c) in indexed],
        "ner model": lambda: list(nlp.pipe(texts, batch_size=enricher.batch_size)),
        "enricher": lambda: enricher.enrich_many_reported(articles),
        "worker": lambda: enrich_payload(enricher, payload),
        "bare joined": lambda: list(nlp.pipe(joined, batch_size=enricher.batch_size)),
    }
    costs = {name: best / len(pairs) * 1e6 for name, best in best_cpu(steps, repeat).items()}
    costs["around total"] = sum(costs[step] for step in AROUND)
    return costs


def best_cpu(steps: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Each step's least CPU time over `repeat` rounds, the steps taking turns in each round."""
    for work in steps.values():
        work()  # warm caches and lazy models
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(repeat):
        for name, work in steps.items():
            started = time.process_time()
            work()
            best[name] = min(best[name], time.process_time() - started)
    return best


if __name__ == "__main__":
    main()
