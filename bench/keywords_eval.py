"""How well Newsflow's keyword tags cover what human highlights say a story is about.

Reads stories with human highlights (JSON lines with "article" and "reference", such as the
CNN/Daily Mail development set), enriches each (headline: the first sentence; body: the whole
story) and measures, per story:

- coverage: the share of the highlights' content words (lower case, light plural strip, not
  stopwords, not words of the entity names Newsflow found, since tags leave names to the entity
  lists) that occur in the keyword tags;
- precision: the share of keyword tags with at least one content word in the highlights.

With --show it prints every story's tags and top-level topics for reading by eye.

    uv run python bench/keywords_eval.py --data ../shared/data/summaries/news_summaries_dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from devdata import SUMMARIES

from shared.article import Article, Body, Headline, Source

from enrich.enrichment import Enricher
from enrich.keywords import STOP

_WORD = re.compile(r"[a-z][a-z'-]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


DEFAULT_DATA = SUMMARIES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--show", action="store_true", help="print each story's tags and topics")
    args = parser.parse_args()
    enricher = Enricher()
    stop = enricher.nlp.Defaults.stop_words | STOP
    stories = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    coverage = precision = 0.0
    for number, story in enumerate(stories):
        text = story["article"]
        headline = _SENTENCE_END.split(text, maxsplit=1)[0][:200]
        article = Article(
            uri=f"urn:bench:{number}",
            source=Source(provider="bench", format="text"),
            headlines=[Headline(value=headline)],
            bodies=[Body(value=text)],
            language="en",
        )
        result = enricher.enrich(article)
        names = {
            w
            for e in result.people + result.organisations + result.places
            for w in _words(e.name, stop)
        }
        reference = _words(story["reference"], stop) - names
        tag_words = [_words(k, stop) for k in result.keywords]
        covered = reference & set().union(*tag_words) if tag_words else set()
        story_coverage = len(covered) / max(len(reference), 1)
        story_precision = sum(bool(w & reference) for w in tag_words) / max(len(tag_words), 1)
        coverage += story_coverage
        precision += story_precision
        if args.show:
            topics = [s.name for s in result.subjects if s.level == 1]
            print(
                f"#{number:02} cov={story_coverage:.2f} prec={story_precision:.2f} {headline[:90]}"
            )
            print(f"    tags:   {' | '.join(result.keywords)}")
            print(f"    topics: {' | '.join(topics)}")
            print(f"    ref:    {story['reference'][:200]!r}")
    count = max(len(stories), 1)
    print(
        f"stories: {len(stories)}  mean coverage: {coverage / count:.3f}  "
        f"mean precision: {precision / count:.3f}"
    )


def _words(text: str, stop: set[str] | frozenset[str]) -> set[str]:
    return {_norm(w) for w in _WORD.findall(text.lower().replace("-", " ")) if w not in stop}


def _norm(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


if __name__ == "__main__":
    main()
