"""Which published events a subscriber wants: the filters shared by webhooks and the SSE stream."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.events import ArticleKilled, ArticlePublished
from shared.identifiers import unsafe_value

PUBLISHED = "article.published"
KILLED = "article.killed"
# Webhook event type <-> ce_type on news.published.
WEBHOOK_TYPES = {ArticlePublished.TYPE: PUBLISHED, ArticleKilled.TYPE: KILLED}
EVENT_TYPES = (PUBLISHED, KILLED)

MEDTOP = re.compile(r"^medtop:\d{8}$")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_MEDIATOPIC_URI = re.compile(r"/mediatopic/(\d{8})$")


class Filters(BaseModel):
    """Every filter given must match (AND); within a list any value may match (OR)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: list[str] = Field(default_factory=list, max_length=100,
                              description="IPTC Media Topic codes, e.g. medtop:11000000")
    entities: list[str] = Field(default_factory=list, max_length=100,
                                description="people, organisations or places (case-insensitive)")
    language: str | None = Field(default=None, max_length=35,  # RFC 5646 section 4.4.1
                                 description="e.g. en (also matches en-GB)")
    # strict: JSON true or "3" is not an urgency (lax validation would read true as 1).
    urgency: int | None = Field(default=None, ge=1, le=9, strict=True,
                                description="at or above: 3 matches urgency 1, 2 and 3")
    sources: list[str] = Field(default_factory=list, max_length=100,
                               description="provider ids")
    event_types: list[str] = Field(default_factory=lambda: list(EVENT_TYPES), max_length=10,
                                   description="article.published, article.killed")

    @field_validator("topics")
    @classmethod
    def _medtop(cls, values: list[str]) -> list[str]:
        for value in values:
            if not MEDTOP.match(value):
                raise ValueError(f"{value!r} is not a medtop code such as medtop:11000000")
        return values

    @field_validator("entities", "sources")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip() for v in values]
        if any(not v or len(v) > 200 for v in cleaned):
            raise ValueError("each value must be 1 to 200 characters")
        if any(unsafe_value(v) for v in values if isinstance(v, str)):
            raise ValueError("control and bidi characters are not allowed")
        return cleaned

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and not LANGUAGE.match(value):
            raise ValueError(f"{value!r} is not a language tag such as en or pt-BR")
        return value

    @field_validator("event_types")
    @classmethod
    def _event_types(cls, values: list[str]) -> list[str]:
        unknown = [v for v in values if v not in EVENT_TYPES]
        if unknown or not values:
            raise ValueError(f"each must be one of {', '.join(EVENT_TYPES)}")
        return sorted(set(values), key=EVENT_TYPES.index)

    def wants_type(self, webhook_type: str) -> bool:
        return webhook_type in self.event_types

    @property
    def reads_article(self) -> bool:
        """Whether `matches` looks at the article at all: without content filters every
        article passes, and a consumer need not decode it for them."""
        return bool(self.language or self.urgency is not None or self.sources or self.topics
                    or self.entities)

    def matches(self, article: dict[str, Any] | ArticleFacets) -> bool:
        """Whether a published article (ninjs wire dict) passes the content filters. A caller
        that matches one article against many filters passes its `ArticleFacets`, so that its
        topics and entity names are worked out once, not once per filter."""
        facets = article if isinstance(article, ArticleFacets) else ArticleFacets(article)
        article = facets.article
        if self.language:
            language = str(article.get("language") or "").casefold()
            wanted = self.language.casefold()
            if language != wanted and not language.startswith(wanted + "-"):
                return False
        if self.urgency is not None:
            urgency = article.get("urgency")
            if urgency is None or int(urgency) > self.urgency:
                return False
        if self.sources and (article.get("source") or {}).get("provider") not in self.sources:
            return False
        if self.topics and facets.topics.isdisjoint(self.topics):
            return False
        if self.entities:
            names = facets.entity_names
            if not any(e.casefold() in names for e in self.entities):
                return False
        return True


class ArticleFacets:
    """An article as content filters read it: its topics and entity names, each worked out
    when first asked for and then kept (a story matched against ten subscriptions' filters
    worked its topics out ten times)."""

    __slots__ = ("_entity_names", "_topics", "article")

    def __init__(self, article: dict[str, Any]) -> None:
        self.article = article
        self._topics: set[str] | None = None
        self._entity_names: set[str] | None = None

    @property
    def topics(self) -> set[str]:
        if self._topics is None:
            self._topics = topics_of(self.article)
        return self._topics

    @property
    def entity_names(self) -> set[str]:
        if self._entity_names is None:
            self._entity_names = entity_names(self.article)
        return self._entity_names


def topics_of(article: dict[str, Any]) -> set[str]:
    """The medtop codes of an article's subjects (from `code` or from the IPTC uri)."""
    codes = set()
    for subject in article.get("subjects") or []:
        code = subject.get("code") or ""
        if code.startswith("medtop:"):
            codes.add(code)
        found = _MEDIATOPIC_URI.search(subject.get("uri") or "")
        if found:
            codes.add("medtop:" + found.group(1))
    return codes


def entity_names(article: dict[str, Any]) -> set[str]:
    return {str(e.get("name", "")).casefold()
            for kind in ("people", "organisations", "places")
            for e in article.get(kind) or []}
