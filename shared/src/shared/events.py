"""Event models and stream names: the contract between the services and with subscribers.

Every stream entry, internal or public, carries the same plain fields so that any Redis client in
any language can read it: ``ce_id``, ``ce_type``, ``ce_source``, ``ce_time``, ``ce_subject``,
``content-type`` and ``data`` (JSON). The ``ce_`` prefix maps CloudEvents 1.0 attributes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, NamedTuple, ParamSpec, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from redis.typing import EncodableT, FieldT

from shared.article import Article

INGESTED_STREAM = "news.ingested"
ENRICHED_STREAM = "news.enriched"
PUBLISHED_STREAM = "news.published"

CONTENT_TYPE = "application/json"

_P = ParamSpec("_P")
_R = TypeVar("_R")


class EventDecodeError(ValueError):
    """A stream entry is not a Newsflow event: poison, never retried."""


class Event(BaseModel):
    """A CloudEvents 1.0 shaped event whose data is one article version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str] = ""

    id: str
    type: str
    source: str
    time: datetime
    subject: str
    data: dict[str, Any] = Field(default_factory=dict)
    # ``data`` as JSON, when the producer has it already (see `follow_wire`).
    _data_json: bytes | None = PrivateAttr(default=None)

    @classmethod
    def for_article(
        cls,
        article: Article,
        source: str,
        *,
        data: dict[str, Any] | None = None,
        time: datetime | None = None,
    ) -> Event:
        """The event about one article version; its id is stable for that version and type."""
        return cls(
            id=cls.article_event_id(article.idempotency_key()),
            type=cls.TYPE,
            source=source,
            time=time or datetime.now(UTC),
            subject=article.uri,
            data=article.wire() if data is None else data,
        )

    @classmethod
    def article_event_id(cls, idempotency_key: str) -> str:
        """The id of this type's event about the article version with this idempotency key."""
        return hashlib.sha256(f"{cls.TYPE}|{idempotency_key}".encode()).hexdigest()[:32]

    @classmethod
    def article_fields(
        cls, article: Article, source: str, event_id: str
    ) -> dict[FieldT, EncodableT]:
        """``for_article(article, source).to_fields()`` (``event_id`` from `article_event_id`)
        without building the event: the article goes straight from its model to JSON, once.
        For a producer that appends every article it takes (ingest)."""
        return _fields(event_id, cls.TYPE, source, datetime.now(UTC), article.uri,
                       article.model_dump_json(by_alias=True, exclude_none=True))

    @classmethod
    def follow(cls, cause: Event, article: Article, source: str) -> Event:
        """The next event in a chain; its id derives from the cause's, so retries repeat it."""
        return cls.follow_wire(cause, article.wire(), source)

    @classmethod
    def follow_wire(cls, cause: Event, wire: dict[str, Any], source: str, *,
                    wire_json: bytes | None = None) -> Event:
        """`follow` for an article already in its wire form (``Article.wire()``), which a
        service that holds it that way need not validate and dump again; ``wire_json``, when
        given, is ``orjson.dumps(wire)``, which the stream fields then carry as they are."""
        key = f"{cls.TYPE}|{cause.id}"
        event = cls(
            id=hashlib.sha256(key.encode()).hexdigest()[:32],
            type=cls.TYPE,
            source=source,
            time=datetime.now(UTC),
            subject=wire["uri"],
            data=wire,
        )
        event._data_json = wire_json
        return event

    def article(self) -> Article:
        return Article.model_validate(self.data)

    @staticmethod
    def decode_article(fields: Mapping[Any, Any]) -> tuple[Event, Article]:
        """A stream entry's event and its article; EventDecodeError (poison) if either is bad."""
        event = Event.from_fields(fields)
        try:
            return event, event.article()
        except ValueError as exc:
            raise EventDecodeError(f"invalid article: {exc}") from exc

    def to_fields(self) -> dict[FieldT, EncodableT]:
        """The plain stream fields (see the module docstring)."""
        data = self._data_json
        return _fields(self.id, self.type, self.source, self.time, self.subject,
                       orjson.dumps(self.data) if data is None else data)

    @staticmethod
    def from_fields(fields: Mapping[Any, Any]) -> Event:
        """Decode a stream entry into the event class its ``ce_type`` names.

        EventDecodeError names the field at fault; bytes that are not UTF-8 are shown escaped."""
        checked = check_fields(fields)
        try:
            return EVENT_TYPES[checked.type](
                id=checked.id,
                type=checked.type,
                source=checked.source,
                time=checked.time,
                subject=checked.subject,
                data=checked.data,
            )
        except (ValueError, TypeError) as exc:
            raise EventDecodeError(f"invalid event: {exc}") from exc


class EventAttributes(NamedTuple):
    """A stream entry's CloudEvents attributes as `check_attributes` found them."""

    type: str
    id: str
    source: str
    time: datetime
    subject: str


class EventFields(NamedTuple):
    """A stream entry's event as `check_fields` found it: every check of `Event.from_fields`
    done, no model built (a few microseconds a story, for a consumer that only routes events)."""

    type: str
    id: str
    source: str
    time: datetime
    subject: str
    data: dict[str, Any]


_ATTRIBUTES = ("ce_type", "ce_id", "ce_source", "ce_time", "ce_subject")
_ATTRIBUTE_KEYS = tuple(name.encode() for name in _ATTRIBUTES)
_LIMITS = {"ce_id": 256, "ce_source": 256, "ce_subject": 2048}  # characters


def _decoding(check: Callable[_P, _R]) -> Callable[_P, _R]:
    """A check of stream fields whose every failure is an EventDecodeError naming the field."""

    @functools.wraps(check)
    def checked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return check(*args, **kwargs)
        except EventDecodeError:
            raise
        except KeyError as exc:
            raise EventDecodeError(f"{_text(exc.args[0])}: missing field") from exc
        except (ValueError, TypeError) as exc:
            raise EventDecodeError(f"invalid event: {exc}") from exc

    return checked


@_decoding
def check_fields(fields: Mapping[Any, Any]) -> EventFields:
    """The fields of a stream entry, checked; EventDecodeError (poison) as `Event.from_fields`."""
    text = {_text(k, "field name"): v for k, v in fields.items()}
    attributes = _attributes(text, _ATTRIBUTES)
    content_type = _text(text.get("content-type", CONTENT_TYPE), "content-type")
    if content_type.split(";")[0].strip().lower() != CONTENT_TYPE:
        raise EventDecodeError(
            f"content-type: {CONTENT_TYPE} is needed, not {content_type[:100]!r}"
        )
    return EventFields(*attributes, check_data(text["data"]))


@_decoding
def check_attributes(fields: Mapping[bytes, Any]) -> EventAttributes:
    """Only the attributes of a stream entry as Redis returns it (field names as bytes),
    checked as `check_fields` checks them: its ``data``, its ``content-type`` and the names of
    its other fields are not looked at. For a consumer that reads nothing more of an entry whose
    producer it trusts for the rest."""
    return _attributes(fields, _ATTRIBUTE_KEYS)


@_decoding
def check_data(data: bytes | str) -> dict[str, Any]:
    """A stream entry's ``data`` field, decoded: a JSON object in UTF-8, or EventDecodeError."""
    try:
        payload = orjson.loads(data)  # checks UTF-8 too: no decoded copy made first
    except orjson.JSONDecodeError as exc:
        _text(data, "data")  # orjson says "not valid UTF-8" without showing where
        raise EventDecodeError(f"data: not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise EventDecodeError(f"data: a JSON object is needed, not {type(payload).__name__}")
    return payload


def _attributes(fields: Mapping[Any, Any], keys: tuple[Any, ...]) -> EventAttributes:
    """The attributes of `_ATTRIBUTES`, found in ``fields`` under ``keys`` (their names, as
    str or as bytes), checked."""
    kind = _text(fields[keys[0]], "ce_type")
    if kind not in EVENT_TYPES:
        raise EventDecodeError(f"ce_type: unknown event type {kind[:100]!r}")
    values = [kind]
    for name, key in zip(_ATTRIBUTES[1:], keys[1:], strict=True):
        value = _text(fields[key], name)
        limit = _LIMITS.get(name)
        if limit is not None and not 0 < len(value) <= limit:
            raise EventDecodeError(f"{name}: must be 1 to {limit} characters, not {len(value)}")
        values.append(value)
    _, event_id, source, time_text, subject = values
    try:
        time = datetime.fromisoformat(time_text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EventDecodeError(f"ce_time: not an ISO 8601 time: {time_text[:100]!r}") from exc
    return EventAttributes(kind, event_id, source, time, subject)


class ArticleIngested(Event):
    TYPE: ClassVar[str] = "news.article.ingested"


class ArticleEnriched(Event):
    TYPE: ClassVar[str] = "news.article.enriched"


class ArticlePublished(Event):
    TYPE: ClassVar[str] = "news.article.published"


class ArticleKilled(Event):
    TYPE: ClassVar[str] = "news.article.killed"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.TYPE: cls for cls in (ArticleIngested, ArticleEnriched, ArticlePublished, ArticleKilled)
}


def _wire_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _fields(event_id: str, kind: str, source: str, time: datetime, subject: str,
            data: str | bytes) -> dict[FieldT, EncodableT]:
    """An event's plain stream fields (see the module docstring); `data` is its JSON."""
    return {
        "ce_id": event_id,
        "ce_type": kind,
        "ce_source": source,
        "ce_time": _wire_time(time),
        "ce_subject": subject,
        "content-type": CONTENT_TYPE,
        "data": data,
    }


def _text(value: Any, field: str = "value") -> str:
    if not isinstance(value, bytes):
        return str(value)
    try:
        return value.decode()
    except UnicodeDecodeError as exc:
        bad = value[max(0, exc.start - 16) : exc.end + 16]
        raise EventDecodeError(f"{field}: not UTF-8 at byte {exc.start}: {bad!r}") from exc
