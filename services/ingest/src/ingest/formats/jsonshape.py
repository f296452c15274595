"""Which JSON format a document is (native, ninjs, JSON Feed) and where its items are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ingest.draft import raw_hash
from ingest.errors import ParseError

_ENVELOPE_KEYS = ("_items", "items", "item", "data", "results", "articles")
_FEED_KEYS = frozenset({"home_page_url", "feed_url", "user_comment", "next_url", "favicon"})
_FEED_ITEM_KEYS = frozenset({"content_html", "content_text", "date_published", "external_url"})
# Keys only the canonical article (or its minimal form) uses; ninjs never does.
_NATIVE_KEYS = frozenset(
    {"body", "embargoedUntil", "embargoed_until", "wordCount", "readingTimeSeconds", "signals"}
)


@dataclass(frozen=True)
class JsonDocument:
    format: str  # "native" | "ninjs" | "jsonfeed"
    items: list[Any]
    feed: dict[str, Any] | None  # the JSON Feed top level, for feed-wide defaults
    single: bool  # one object: its raw hash is the document's


def load(text: str) -> Any:
    """Parse JSON; the error names the line and column."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ParseError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc


def classify(value: Any) -> JsonDocument:
    if isinstance(value, dict):
        if _is_json_feed(value):
            items = value.get("items")
            return JsonDocument("jsonfeed", items if isinstance(items, list) else [], value, False)
        items = _envelope_items(value)
        if items is not None:
            return JsonDocument(_item_format(items), items, None, False)
        return JsonDocument(_item_format([value]), [value], None, True)
    if isinstance(value, list):
        return JsonDocument(_item_format(value), value, None, False)
    raise ParseError("a JSON document must be an object or an array of objects")


def _is_json_feed(value: dict[str, Any]) -> bool:
    version = value.get("version")
    if isinstance(version, str) and "jsonfeed.org/version" in version:
        return True
    items = value.get("items")
    if not isinstance(items, list) or not _FEED_KEYS.intersection(value):
        return False
    return any(isinstance(item, dict) and _FEED_ITEM_KEYS.intersection(item) for item in items)


def _envelope_items(value: dict[str, Any]) -> list[Any] | None:
    if "uri" in value or "guid" in value or "headline" in value or "headlines" in value:
        return None
    for key in _ENVELOPE_KEYS:
        items = value.get(key)
        if isinstance(items, list):
            return items
        if isinstance(items, dict) and key == "item":
            return [items]
    return None


def _item_format(items: list[Any]) -> str:
    first = next((item for item in items if isinstance(item, dict)), None)
    if first is None:
        return "ninjs"
    if _NATIVE_KEYS.intersection(first) or isinstance(first.get("source"), dict):
        return "native"
    if "uri" not in first and "guid" not in first:
        return "native"  # ninjs requires a uri; an object without one is our minimal form
    return "ninjs"


def item_hash(item: Any) -> str:
    """The hash of one item of a JSON array: its canonical (sorted-key) serialisation."""
    try:
        return raw_hash(orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
    except (TypeError, orjson.JSONEncodeError):
        return raw_hash(repr(item).encode())
