"""Enrich a batch of articles: the entry point the enrich service calls, once per batch.

Per article: clean the body, settle the language, then (English only) entities and keywords from
one spaCy pass that covers the whole batch, and for every language topics, an extractive summary,
word count and reading time. One article that fails never sinks the others: `enrich_many_safe`
returns the exception in that article's place.

Which languages get what: entities and keywords need the English spaCy model, so only articles
in English (`en`, `en-GB`, ...) get them. Topics use a linear model that learnt English first,
with some German, French, Spanish and Italian (lower confidence there, lower still or none in
other languages); summary, word count and reading time work for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.article import Article, Body, Description, Entity, Headline

from enrich.cleaning import CleanText, clean_line, clean_text, html_to_text
from enrich.entities import FoundEntity, find_entities, merge_with_source, name_key, split_by_kind
from enrich.keywords import extract_keywords
from enrich.language import LanguageIdentifier
from enrich.metrics import reading_time_seconds, word_count
from enrich.spacy_model import BATCH_SIZE, load_english
from enrich.summary import summarize
from enrich.topics import TopicClassifier

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MAX_NER_CHARS = 100_000  # spaCy's cost is linear, but a 1 MB "article" is a feed error
ENTITY_LANGUAGES = frozenset({"en"})


@dataclass(slots=True)
class _Prepared:
    article: Article
    headline: str
    clean: CleanText
    language: str | None

    @property
    def english(self) -> bool:
        return self.language is not None and _base(self.language) in ENTITY_LANGUAGES


class Enricher:
    """Holds the models (spaCy, lingua, the topic model); build one per process and reuse it."""

    def __init__(
        self,
        nlp: Language | None = None,
        languages: LanguageIdentifier | None = None,
        topics: TopicClassifier | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.nlp = nlp if nlp is not None else load_english()
        self.languages = languages if languages is not None else LanguageIdentifier()
        self.topics = topics if topics is not None else TopicClassifier()
        self.batch_size = batch_size

    def enrich(self, article: Article) -> Article:
        return self.enrich_many([article])[0]

    def enrich_many(self, articles: list[Article]) -> list[Article]:
        """Enriched copies, in order; raises the first article's error if any failed."""
        results = self.enrich_many_safe(articles)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results  # type: ignore[return-value]

    def enrich_many_safe(self, articles: list[Article]) -> list[Article | Exception]:
        """Enriched copies, in order, with the exception in place of any article that failed."""
        prepared: list[_Prepared | Exception] = []
        for article in articles:
            try:
                prepared.append(self._prepare(article))
            except Exception as exc:  # one bad article must not sink the batch
                prepared.append(exc)
        english = [p for p in prepared if isinstance(p, _Prepared) and p.english]
        docs = self._ner(english)
        results: list[Article | Exception] = []
        for item in prepared:
            if isinstance(item, Exception):
                results.append(item)
                continue
            try:
                pair = docs.get(id(item))
                if isinstance(pair, Exception):
                    raise pair
                results.append(self._finish(item, pair))
            except Exception as exc:
                results.append(exc)
        return results

    def _prepare(self, article: Article) -> _Prepared:
        headline = clean_line(article.headline)
        source = article.body_text
        if not any(b.content_type == "text/plain" for b in article.bodies) and article.body_html:
            source = html_to_text(article.body_html)
        clean = clean_text(source)
        language = self.languages.resolve(article.language, f"{headline}\n{clean.text}")
        return _Prepared(article, headline, clean, language)

    def _ner(self, items: list[_Prepared]) -> dict[int, tuple[Doc, Doc] | Exception]:
        """One `nlp.pipe` over every headline and body of the batch."""
        texts = [t for p in items for t in (p.headline, p.clean.text[:MAX_NER_CHARS])]
        try:
            docs = list(self.nlp.pipe(texts, batch_size=self.batch_size))
        except Exception:
            return {id(p): self._ner_one(p) for p in items}  # find the one that breaks
        return {id(p): (docs[2 * i], docs[2 * i + 1]) for i, p in enumerate(items)}

    def _ner_one(self, item: _Prepared) -> tuple[Doc, Doc] | Exception:
        try:
            headline, body = self.nlp.pipe([item.headline, item.clean.text[:MAX_NER_CHARS]])
        except Exception as exc:
            return exc
        return headline, body

    def _finish(self, item: _Prepared, docs: tuple[Doc, Doc] | None) -> Article:
        article, clean = item.article, item.clean
        update: dict[str, object] = {
            "language": item.language,
            "headlines": _headlines(article, item.headline),
            "bodies": _bodies(article, clean.text),
            "word_count": (words := word_count(clean.text)),
            "reading_time_seconds": reading_time_seconds(words),
            "subjects": _subjects(article, self.topics.classify(item.headline, clean.text,
                                                                item.language)),
            "descriptions": _descriptions(article, summarize(clean, item.headline)),
        }
        if docs is not None:
            found = find_entities(docs[0], docs[1], clean)
            update.update(_entities(article, found))
            update["keywords"] = _keywords(article, extract_keywords(docs[1], clean, found))
        return article.model_copy(update=update)


def _base(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()


def _headlines(article: Article, cleaned: str) -> list[Headline]:
    """The main headline as cleaned: headline mentions are offsets into this text."""
    if not cleaned or not article.headlines:
        return article.headlines
    main = next((i for i, h in enumerate(article.headlines) if h.role == "main"), 0)
    return [h.model_copy(update={"value": cleaned}) if i == main else h
            for i, h in enumerate(article.headlines)]


def _bodies(article: Article, text: str) -> list[Body]:
    bodies = [
        b.model_copy(update={"value": text}) if b.content_type == "text/plain" else b
        for b in article.bodies
    ]
    if text and not any(b.content_type == "text/plain" for b in bodies):
        bodies.insert(0, Body(value=text))
    return bodies


def _entities(article: Article, found: list[FoundEntity]) -> dict[str, list[Entity]]:
    people, organisations, places = split_by_kind(found)
    given = {
        "people": article.people,
        "organisations": article.organisations,
        "places": article.places,
    }
    ours = {"people": people, "organisations": organisations, "places": places}
    merged = {}
    for field_name, entities in ours.items():
        elsewhere = {
            name_key(e.name) for other, lst in given.items() if other != field_name for e in lst
        }
        merged[field_name] = merge_with_source(given[field_name], entities, elsewhere)
    return merged


def _keywords(article: Article, found: list[str]) -> list[str]:
    seen = {k.casefold() for k in article.keywords}
    return [*article.keywords, *(k for k in found if k.casefold() not in seen)]


def _subjects(article: Article, predicted: list) -> list:
    given = {s.code for s in article.subjects if s.code}
    return [*article.subjects, *(s for s in predicted if s.code not in given)]


def _descriptions(article: Article, sentences: list[str]) -> list[Description]:
    if not sentences or any(d.role == "summary" for d in article.descriptions):
        return article.descriptions
    return [*article.descriptions, Description(role="summary", value=" ".join(sentences))]
