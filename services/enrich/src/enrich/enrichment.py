"""Enrich a batch of articles: the entry point the enrich service calls, once per batch.

Per article: clean the body, settle the language, then (English only) entities and keywords from
one spaCy pass that covers the whole batch, and for every language topics, an extractive summary,
word count and reading time. One article that fails never sinks the others: `enrich_many_safe`
returns the exception in that article's place.

Which languages get what: entities and keywords need the English spaCy model, so only articles
in English (`en`, `en-GB`, ...) get them. Topics use a linear model that learnt English first,
with some German, French, Spanish and Italian (lower confidence there, lower still or none in
other languages); summary, word count and reading time work for all.

Every step costs time linear in the story, and the long ones read a bounded part of it (NER and
topics the first MAX_NLP_CHARS characters, the summary the first sentences). Each story also has
a time budget: once its own steps have taken `budget_s` seconds, the steps left (in the order
summary, topics, entities, keywords) are skipped and the story is published with what is done;
its `edNote` says which were skipped, and the service logs and counts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from shared.article import Article, Body, Description, Entity, Headline

from enrich.cleaning import CleanText, clean_line, clean_text, html_to_text
from enrich.entities import (
    FoundEntity,
    find_entities,
    located,
    merge_with_source,
    name_key,
    split_by_kind,
)
from enrich.keywords import extract_keywords
from enrich.language import LanguageIdentifier
from enrich.metrics import reading_time_seconds, word_count
from enrich.spacy_model import BATCH_SIZE, load_english
from enrich.summary import summarize
from enrich.topics import TopicClassifier

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# NER and topics read this much of a body: spaCy's cost is linear, but a 1 MB "article" is a
# feed error and would hold a worker for seconds.
MAX_NLP_CHARS = 100_000
MAX_NER_CHARS = MAX_NLP_CHARS
ENTITY_LANGUAGES = frozenset({"en"})
# Seconds of one story's own work after which its remaining steps are skipped. A story within
# MAX_NLP_CHARS takes well under a second; the budget is a guard, not a tuning knob.
STORY_BUDGET_S = 5.0
STEPS = ("summary", "topics", "entities", "keywords")
INCOMPLETE_NOTE = "Newsflow enrichment incomplete (time budget): {steps} not computed."
# An entity the model found: (start, end, label), character offsets into the text it read.
EntitySpan = tuple[int, int, str]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Enriched:
    """An enriched article and the enrichment steps its time budget left out."""

    article: Article
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelPass:
    """The model's entities for a story whose model pass ran before `enrich_many_reported`,
    in other worker processes (`enrich.split`): spans of the cleaned headline and of the body's
    `model_texts`, and the seconds the pass took (charged to the story's budget)."""

    headline: tuple[EntitySpan, ...]
    body: tuple[EntitySpan, ...]
    seconds: float


@dataclass(slots=True)
class _Prepared:
    article: Article
    headline: str
    clean: CleanText
    language: str | None
    spent: float = 0.0  # seconds of this story's own work so far
    skipped: list[str] = field(default_factory=list)
    update: dict[str, object] = field(default_factory=dict)  # the enriched fields so far

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
        budget_s: float = STORY_BUDGET_S,
    ) -> None:
        self.nlp = nlp if nlp is not None else load_english()
        self.languages = languages if languages is not None else LanguageIdentifier()
        self.topics = topics if topics is not None else TopicClassifier()
        self.batch_size = batch_size
        self.budget_s = budget_s

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
        results = self.enrich_many_reported(articles)
        return [r if isinstance(r, Exception) else r.article for r in results]

    def enrich_many_reported(
        self, articles: list[Article], passes: Mapping[int, ModelPass] | None = None
    ) -> list[Enriched | Exception]:
        """Like `enrich_many_safe`, saying for each article which steps its budget skipped.

        `passes` holds, by index in `articles`, the model's output for the stories whose model
        pass ran already (split across workers); the model reads only the others."""
        prepared: list[_Prepared | Exception] = []
        for article in articles:
            started = time.perf_counter()
            try:
                ready = self._prepare(article)
                ready.spent = time.perf_counter() - started
                self._summarise_and_classify(ready)
            except Exception as exc:  # one bad article must not sink the batch
                prepared.append(exc)
                continue
            prepared.append(ready)
        english = [p for p in prepared if isinstance(p, _Prepared) and p.english]
        due = [p for p in english if p.spent < self.budget_s]
        ran = {id(prepared[i]): found for i, found in (passes or {}).items()}
        docs = self._ner([p for p in due if id(p) not in ran])
        docs.update((id(p), self._rebuild(p, ran[id(p)])) for p in due if id(p) in ran)
        results: list[Enriched | Exception] = []
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

    def model_texts(self, article: Article) -> tuple[str, str] | None:
        """The headline and body text the model reads for this article (after cleaning), or
        None when it gets no entities (not English)."""
        ready = self._prepare(article)
        return (ready.headline, _ner_text(ready.clean.text)) if ready.english else None

    def _prepare(self, article: Article) -> _Prepared:
        headline = clean_line(article.headline)
        source = article.body_text
        if not any(b.content_type == "text/plain" for b in article.bodies) and article.body_html:
            source = html_to_text(article.body_html)
        clean = clean_text(source)
        language = self.languages.resolve(article.language, f"{headline}\n{clean.text}")
        return _Prepared(article, headline, clean, language)

    def _ner(self, items: list[_Prepared]) -> dict[int, tuple[Doc, Doc] | Exception]:
        """One `nlp.pipe` over every headline and body of the batch; each story is charged its
        share of the time, by length."""
        texts = [t for p in items for t in (p.headline, _ner_text(p.clean.text))]
        started = time.perf_counter()
        try:
            docs = list(self.nlp.pipe(texts, batch_size=self.batch_size))
        except Exception:
            return {id(p): self._ner_one(p) for p in items}  # find the one that breaks
        elapsed = time.perf_counter() - started
        total = sum(map(len, texts)) or 1
        for i, item in enumerate(items):
            item.spent += elapsed * (len(texts[2 * i]) + len(texts[2 * i + 1])) / total
        return {id(p): (docs[2 * i], docs[2 * i + 1]) for i, p in enumerate(items)}

    def _ner_one(self, item: _Prepared) -> tuple[Doc, Doc] | Exception:
        try:
            headline, body = self.nlp.pipe([item.headline, _ner_text(item.clean.text)])
        except Exception as exc:
            return exc
        return headline, body

    def _rebuild(self, item: _Prepared, found: ModelPass) -> tuple[Doc, Doc] | Exception:
        """The docs the model would have made, from the entities of a pass that ran elsewhere:
        the tokenizer again (about 2% of the model's time) and the spans set on its tokens.
        Parts were cut at whitespace, so every span falls on token boundaries."""
        started = time.perf_counter()
        docs = []
        try:
            for text, spans in ((item.headline, found.headline),
                                (_ner_text(item.clean.text), found.body)):
                doc = self.nlp.make_doc(text)
                doc.ents = [span for s, e, label in spans if (span := doc.char_span(
                    s, e, label=label, alignment_mode="expand")) is not None]
                docs.append(doc)
        except Exception as exc:
            return exc
        finally:
            item.spent += found.seconds + time.perf_counter() - started
        return docs[0], docs[1]

    def _summarise_and_classify(self, item: _Prepared) -> None:
        """The steps every language gets, before NER: they are cheap and need no model."""
        article, clean, headline = item.article, item.clean, item.headline
        update = item.update
        update["language"] = item.language
        update["headlines"] = _headlines(article, headline)
        update["bodies"] = _bodies(article, clean.text)
        update["word_count"] = words = word_count(clean.text)
        update["reading_time_seconds"] = reading_time_seconds(words)
        update["located"] = article.located or located(clean)
        summary = self._step(item, "summary", lambda: summarize(clean, headline))
        if summary is not None:
            update["descriptions"] = _descriptions(article, summary)
        topics = self._step(
            item,
            "topics",
            lambda: self.topics.classify(headline, clean.text[:MAX_NLP_CHARS], item.language),
        )
        if topics is not None:
            update["subjects"] = _subjects(article, topics)

    def _finish(self, item: _Prepared, docs: tuple[Doc, Doc] | None) -> Enriched:
        """Entities and keywords from the NER docs, and the note of what was skipped."""
        article, clean, update = item.article, item.clean, item.update
        if docs is None and item.english:  # its budget was spent before NER
            item.skipped.extend(["entities", "keywords"])
        elif docs is not None:
            head_doc, body_doc = docs
            found = self._step(item, "entities", lambda: find_entities(head_doc, body_doc, clean))
            if found is None:
                item.skipped.append("keywords")
            else:
                update.update(_entities(article, found))
                keywords = self._step(
                    item, "keywords", lambda: extract_keywords(body_doc, clean, found)
                )
                if keywords is not None:
                    update["keywords"] = _keywords(article, keywords)
        if item.skipped:
            note = INCOMPLETE_NOTE.format(steps=", ".join(item.skipped))
            update["ed_note"] = f"{article.ed_note}\n{note}" if article.ed_note else note
        return Enriched(article.model_copy(update=update), tuple(item.skipped))

    def _step(self, item: _Prepared, name: str, work: Callable[[], T]) -> T | None:
        """`work()`, unless the story has used up its budget (then None, and the step noted)."""
        if item.spent >= self.budget_s:
            item.skipped.append(name)
            return None
        started = time.perf_counter()
        try:
            return work()
        finally:
            item.spent += time.perf_counter() - started


def _ner_text(text: str) -> str:
    """The part of a body NER reads: all of it, or its first MAX_NER_CHARS characters cut at a
    space, so that no word is cut in two (a cut "Offi|cials" reads as a name)."""
    if len(text) <= MAX_NER_CHARS:
        return text
    cut = text.rfind(" ", 0, MAX_NER_CHARS + 1)
    return text[: cut if cut > MAX_NER_CHARS // 2 else MAX_NER_CHARS]


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
