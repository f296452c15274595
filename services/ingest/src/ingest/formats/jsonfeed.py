"""JSON Feed 1.0 / 1.1 items to drafts."""

from __future__ import annotations

from typing import Any

from shared.article import Subject

from ingest import values
from ingest.draft import Draft
from ingest.errors import InvalidArticle
from ingest.formats.jsonshape import item_hash


def drafts(feed: dict[str, Any], items: list[Any]) -> list[Draft]:
    if not items:
        raise InvalidArticle("the JSON Feed has no items", field="items")
    feed_authors = _authors(feed)
    feed_language = feed.get("language")
    result = []
    for index, item in enumerate(items):
        label = f"#{index + 1}"
        if not isinstance(item, dict):
            problem = InvalidArticle(f"item {label} is not a JSON object", field="items")
            result.append(Draft(label=label, raw_hash=item_hash(item), problem=problem))
            continue
        uri = _id(item)
        result.append(
            Draft(
                label=repr(uri) if uri else label,
                raw_hash=item_hash(item),
                uri=uri,
                version_created=item.get("date_modified") or item.get("date_published"),
                first_created=item.get("date_published"),
                language=item.get("language") or feed_language,
                headlines=[("main", item["title"])] if isinstance(item.get("title"), str) else [],
                body_text=_string(item.get("content_text"))
                or (None if item.get("content_html") else _string(item.get("summary"))),
                body_html=_string(item.get("content_html")),
                byline=", ".join(_authors(item) or feed_authors) or None,
                subjects=[
                    Subject(name=tag, scheme="category")
                    for tag in item.get("tags") or []
                    if isinstance(tag, str) and tag.strip()
                ],
            )
        )
    return result


def _id(item: dict[str, Any]) -> str | None:
    """The item id kept as given (1.0 allows numbers); else its URL; else minted later."""
    for key in ("id", "url", "external_url"):
        value = item.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return None


def _authors(holder: dict[str, Any]) -> list[str]:
    """1.1 `authors` takes precedence over the legacy 1.0 `author`."""
    authors = holder.get("authors")
    if not isinstance(authors, list) or not authors:
        authors = [holder["author"]] if isinstance(holder.get("author"), dict) else []
    names = [values.text(a.get("name")) for a in authors if isinstance(a, dict)]
    return [n for n in names if n]


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
