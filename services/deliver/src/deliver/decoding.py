"""What the fan-out reads of a news.published entry, checked; publish's own entries are trusted
for the ``data`` routing does not read.

The fan-out reads an entry's type, id, time and subject to route it and to build the body, and
hands ``data`` on to subscribers as it is. publish writes ``data`` as orjson's encoding of an
article it validated, or as enrich's bytes, which are orjson's encoding of an article enrich
validated (publish/decoding.py): a JSON object, in UTF-8, valid by construction. Decoding those
4 to 10 KB of JSON again (entities, their mentions) was about half of the fan-out's CPU per
story, for a result no subscription reads unless it has content filters.

So for an entry whose ``ce_source`` is publish's, the attributes are checked as every consumer
checks them (`check_attributes`), ``data`` must be UTF-8 (the body is text) and an object at a
glance (``{`` to ``}``), and it is decoded only when some enabled subscription has content
filters (`Filters.reads_article`). Publish's data that is not UTF-8 or not an object at a glance
is poison whatever the subscriptions; data that only decoding would find bad (publish does not
write it) is poison when it is decoded and is otherwise delivered as it is. Any other producer's
entry is checked whole (`check_fields`, as `Event.from_fields` checks it): its ``data`` is
decoded, so what a subscriber receives from it is JSON too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from shared.events import EventDecodeError, check_attributes, check_data, check_fields
from shared.filters import WEBHOOK_TYPES

PUBLISH_SOURCE = "newsflow/publish"  # publish's EVENT_SOURCE: the producer trusted here
_PUBLISH_SOURCE = PUBLISH_SOURCE.encode()


class Announced(NamedTuple):
    """A news.published entry as the fan-out reads it."""

    type: str  # the webhook type: article.published | article.killed
    id: str
    time: datetime
    subject: str  # the story's uri
    data: bytes  # the entry's ``data``, the JSON the body carries (UTF-8, checked)
    article: dict[str, Any]  # ``data`` decoded; empty if it was not (see `read_entry`)


def read_entry(fields: Mapping[bytes, bytes], *, decode: bool) -> Announced | None:
    """The entry as the fan-out reads it, None if webhooks do not carry its type;
    EventDecodeError (poison) if it is bad. ``decode``: whether some content filter will read
    the article; publish's entries are decoded only then."""
    if fields.get(b"ce_source") != _PUBLISH_SOURCE:
        checked = check_fields(fields)
        kind = WEBHOOK_TYPES.get(checked.type)
        if kind is None:
            return None
        return Announced(kind, checked.id, checked.time, checked.subject,
                         fields[b"data"], checked.data)  # decoded: so UTF-8
    attributes = check_attributes(fields)
    kind = WEBHOOK_TYPES.get(attributes.type)
    if kind is None:
        return None
    data = _publish_data(fields)
    return Announced(kind, attributes.id, attributes.time, attributes.subject, data,
                     check_data(data) if decode else {})


def _publish_data(fields: Mapping[bytes, bytes]) -> bytes:
    """``data`` as it is, once it is known to be UTF-8 and an object at a glance."""
    raw = fields.get(b"data")
    if raw is None:
        raise EventDecodeError("data: missing field")
    if not raw.isascii():  # a quick scan; decoding (the check itself) only when it is not
        try:
            raw.decode()
        except UnicodeDecodeError as exc:
            raise EventDecodeError(f"data: not UTF-8 at byte {exc.start}") from exc
    if not (raw.startswith(b"{") and raw.endswith(b"}")):
        raise EventDecodeError(f"data: a JSON object is needed, not {raw[:20]!r}")
    return raw
