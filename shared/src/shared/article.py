"""The canonical article: what every format is parsed into and every channel publishes.

Aligned with IPTC ninjs 3.x (camelCase field names on the wire). Ingest fills the first block of
fields from the source; enrich adds the second block; publish stores and sends the whole.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


def _utc(value: datetime | None) -> datetime | None:
    """Every stored time is timezone-aware UTC; a naive time is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Model(BaseModel):
    """Base for article parts: camelCase on the wire, snake_case in Python, unknown keys refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready ninjs-style dict (camelCase, no None values)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class PubStatus(StrEnum):
    usable = "usable"
    withheld = "withheld"
    canceled = "canceled"


class Headline(Model):
    role: str = "main"
    value: str


class Body(Model):
    role: str = "main"
    content_type: str = "text/plain"
    value: str


class Description(Model):
    role: str = "summary"
    content_type: str = "text/plain"
    value: str


class Subject(Model):
    """A topic: an IPTC Media Topic (`medtop:...`) or a code from the source's own scheme."""

    uri: str | None = None
    code: str | None = None
    name: str | None = None
    scheme: str | None = None
    rel: str | None = None
    confidence: float | None = None
    level: int | None = None


class Mention(Model):
    """Where an entity occurs: character offsets into the cleaned text of `field`."""

    field: str = "body"
    start: int
    end: int


class Entity(Model):
    """A person, organisation or place, from the source or found by enrichment."""

    name: str
    type: str | None = None
    uri: str | None = None
    code: str | None = None  # the source's own code (a G2 qcode, a ninjs code), like Subject.code
    scheme: str | None = None
    count: int | None = None
    salience: float | None = None
    first_position: int | None = None
    mentions: list[Mention] = Field(default_factory=list)


class Association(Model):
    """An item a package (``type`` composite) refers to, as ninjs 3 ``associations`` carry it:
    enough for a subscriber to resolve the member (its uri and version) and to show it."""

    name: str | None = None  # the member's place in the package: its group role ("main")
    uri: str = Field(min_length=1, max_length=2048)
    version: int | None = Field(default=None, ge=0, le=2**62 - 1)
    rel: str | None = None
    type: str | None = None  # text, picture, video, composite ...
    headlines: list[Headline] = Field(default_factory=list)


class Source(Model):
    """Where the story came from: provider id, original format, hash of the raw bytes."""

    provider: str
    format: str
    raw_hash: str | None = None
    # The uri namespace the story belongs to when the provider shares one with other providers
    # (NEWSFLOW_SHARED_NAMESPACES); absent, the provider alone owns its stories.
    namespace: str | None = None

    @property
    def owner(self) -> str:
        """Who owns the story's uri: only this owner may send its versions and kills."""
        return self.namespace or self.provider


# Versions are stored as signed 64-bit integers, with room above them for a final kill.
MAX_VERSION = 2**62 - 1


def _has_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


# The bounds of an article's identity fields, one definition for `Article` and for the models
# that read a subset of it (publish's `ArticleFacts`).
Uri = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_has_text)]
Version = Annotated[int, Field(ge=0, le=MAX_VERSION)]
Urgency = Annotated[int, Field(ge=1, le=9)]


class Article(Model):
    """One version of one story."""

    uri: Uri
    version: Version | None = None
    version_created: UtcDatetime | None = None
    first_created: UtcDatetime | None = None
    pub_status: PubStatus = PubStatus.usable
    embargoed_until: UtcDatetime | None = None
    urgency: Urgency | None = None
    language: str | None = None
    type: str = "text"
    headlines: list[Headline] = Field(default_factory=list)
    bodies: list[Body] = Field(default_factory=list)
    slugline: str | None = None
    byline: str | None = None
    ed_note: str | None = None
    signals: list[str] = Field(default_factory=list)
    source: Source
    subjects: list[Subject] = Field(default_factory=list)
    people: list[Entity] = Field(default_factory=list)
    organisations: list[Entity] = Field(default_factory=list)
    places: list[Entity] = Field(default_factory=list)
    located: str | None = None  # where the story was filed (ninjs `located`), e.g. the dateline
    associations: list[Association] = Field(default_factory=list)  # a package's members
    # Added by enrich.
    keywords: list[str] = Field(default_factory=list)
    descriptions: list[Description] = Field(default_factory=list)
    word_count: int | None = None
    reading_time_seconds: int | None = None

    @property
    def headline(self) -> str:
        """The main headline, or the first one, or empty."""
        for item in self.headlines:
            if item.role == "main":
                return item.value
        return self.headlines[0].value if self.headlines else ""

    @property
    def body_text(self) -> str:
        """The plain-text body (the first text/plain body, else the first body)."""
        for item in self.bodies:
            if item.content_type == "text/plain":
                return item.value
        return self.bodies[0].value if self.bodies else ""

    @property
    def body_html(self) -> str | None:
        for item in self.bodies:
            if item.content_type == "text/html":
                return item.value
        return None

    @property
    def killed(self) -> bool:
        return self.pub_status is not PubStatus.usable

    def idempotency_key(self) -> str:
        """(source, uri, version); without a version, a hash of the content."""
        if self.version is not None:
            return f"{self.source.provider}|{self.uri}|v{self.version}"
        return f"{self.source.provider}|{self.uri}|h{self.content_hash()}"

    def content_hash(self) -> str:
        """A hash of what a reader sees and when; the same story sent twice hashes the same,
        a re-send that only moves or lifts its embargo does not."""
        digest = hashlib.sha256()
        embargo = self.embargoed_until.isoformat() if self.embargoed_until else ""
        for part in (self.pub_status.value, self.headline, self.body_text, self.body_html or "",
                     embargo):
            digest.update(part.encode())
            digest.update(b"\x00")
        return digest.hexdigest()[:32]
