"""The facts publish reads of an article enrich wrote, checked without validating it whole.

enrich writes each story as ``orjson.dumps(article.wire())`` of an article it validated: JSON
in the canonical form publish would write itself. Validating all of it again (every entity's
mentions, the bodies) and dumping it back took about a fifth of publish's CPU per story. For an
entry whose ``ce_source`` is enrich's, publish checks only what it reads (`ArticleFacts`: what
the store indexes and guards on, the kill and embargo decisions) and stores and announces
enrich's bytes as they are. Any other producer's entry, and every kill, embargo or topic-code
migration, takes the whole `Article` as before. A bad value in a field publish reads is poison
either way, with the field named; the fields it does not read (bodies, headlines, mentions)
are enrich's to get right, which it does by validating the article it writes.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from shared.article import Article, PubStatus, Urgency, Uri, UtcDatetime, Version
from shared.events import Event, EventDecodeError
from shared.medtop_migration import migrate_subjects

ENRICH_SOURCE = "newsflow/enrich"


class _Facts(BaseModel):
    """camelCase on the wire as in `Article`; the fields publish does not read are skipped."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                              frozen=True)


class NamedFacts(_Facts):
    name: str


class SourceFacts(_Facts):
    provider: str
    format: str
    namespace: str | None = None

    @property
    def owner(self) -> str:
        """As `Source.owner`."""
        return self.namespace or self.provider


class SubjectFacts(_Facts):
    uri: str | None = None
    code: str | None = None
    name: str | None = None


class ArticleFacts(_Facts):
    """The fields of `Article` that publish reads, with the same types and bounds."""

    uri: Uri
    version: Version | None = None
    version_created: UtcDatetime | None = None
    first_created: UtcDatetime | None = None
    pub_status: PubStatus = PubStatus.usable
    embargoed_until: UtcDatetime | None = None
    urgency: Urgency | None = None
    language: str | None = None
    source: SourceFacts
    subjects: list[SubjectFacts] = Field(default_factory=list)
    people: list[NamedFacts] = Field(default_factory=list)
    organisations: list[NamedFacts] = Field(default_factory=list)
    places: list[NamedFacts] = Field(default_factory=list)

    @property
    def killed(self) -> bool:
        return self.pub_status is not PubStatus.usable


def as_enrich_wrote_it(event: Event, data: bytes) -> tuple[ArticleFacts, bytes] | None:
    """The facts of the article of an entry enrich wrote, and its JSON (``data``, the entry's
    field) to store and announce as it is; None where the whole article must be taken:
    another producer's entry, a kill, an embargo, subjects under the former topic table.
    EventDecodeError (poison) names the field if one publish reads is bad."""
    if event.source != ENRICH_SOURCE:
        return None
    try:
        facts = ArticleFacts.model_validate(event.data)
    except ValidationError as exc:
        raise EventDecodeError(f"invalid article: {exc}") from exc
    if facts.killed or facts.embargoed_until is not None:
        return None
    subjects = event.data.get("subjects") or []  # dicts, as the facts' check found them
    if migrate_subjects(subjects)[0] is not subjects:
        return None
    return facts, data


def whole_article(event: Event) -> Article:
    """The event's article validated whole, as `Event.decode_article` gives it."""
    try:
        return event.article()
    except ValueError as exc:
        raise EventDecodeError(f"invalid article: {exc}") from exc
