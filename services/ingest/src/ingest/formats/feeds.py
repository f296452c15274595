"""RSS 0.9x/1.0/2.0 and Atom 1.0 through feedparser (which also recovers ill-formed feeds)."""

from __future__ import annotations

import io
import re
import time
from calendar import timegm
from datetime import UTC, datetime
from typing import Any

import feedparser
import structlog

from shared.article import Subject

from ingest import dates, markup
from ingest.draft import Draft, raw_hash
from ingest.errors import InvalidArticle, ParseError

log = structlog.get_logger()

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def parse_feed(text: str) -> tuple[str, Any]:
    """The format name ("rss" or "atom") and feedparser's result for a decoded feed."""
    # Already decoded to str: hand feedparser UTF-8 and a declaration that says so. A stream,
    # never bytes or str: feedparser would treat those as a file name or a URL to fetch.
    body = '<?xml version="1.0" encoding="utf-8"?>' + _XML_DECL.sub("", text, count=1)
    try:
        result = feedparser.parse(
            io.BytesIO(body.encode("utf-8")),
            response_headers={"content-type": "application/xml; charset=utf-8"},
            sanitize_html=False,  # nh3 sanitizes every body once, in ingest.draft
            resolve_relative_uris=True,
        )
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        # feedparser's lenient parser trips over some hostile input (`&#x110000;`, bad sizes).
        raise ParseError(f"malformed feed: {exc}") from exc
    version = result.get("version") or ""
    if result.get("bozo") and not result.entries:
        problem = result.get("bozo_exception")
        raise ParseError(f"malformed feed: {problem}" if problem else "malformed feed")
    if result.get("bozo"):
        log.warning(
            "feed.recovered", problem=str(result.get("bozo_exception")), items=len(result.entries)
        )
    return ("atom" if version.startswith("atom") else "rss"), result


def drafts(result: Any, document: bytes) -> list[Draft]:
    if not result.entries:
        raise InvalidArticle("the feed has no items", field="items")
    digest = raw_hash(document)
    feed_language = result.feed.get("language")
    return [
        _entry(entry, index, digest, feed_language) for index, entry in enumerate(result.entries)
    ]


def _entry(entry: Any, index: int, digest: str, feed_language: str | None) -> Draft:
    uri = _first_text(entry.get("id"), entry.get("link"))
    body_text, body_html = _body(entry)
    published = _date(entry, "published")
    updated = _date(entry, "updated")
    title = entry.get("title_detail") or {}
    headline = entry.get("title") or ""
    if "html" in (title.get("type") or ""):
        headline = markup.html_to_text(headline)
    return Draft(
        label=repr(uri) if uri else f"#{index + 1}",
        raw_hash=digest,
        uri=uri,
        version_created=updated or published,
        first_created=published,
        language=title.get("language") or feed_language,
        headlines=[("main", headline)] if headline.strip() else [],
        body_text=body_text,
        body_html=body_html,
        byline=_byline(entry),
        subjects=[
            Subject(name=name, scheme="category")
            for name in (
                _first_text(tag.get("term"), tag.get("label")) for tag in entry.get("tags") or []
            )
            if name
        ],
    )


def _body(entry: Any) -> tuple[str | None, str | None]:
    """Full content when the feed has it, else the summary; HTML is kept for sanitizing."""
    details = list(entry.get("content") or [])
    if entry.get("summary_detail"):
        details.append(entry["summary_detail"])
    for detail in details:
        value = detail.get("value") or ""
        if not value.strip():
            continue
        kind = detail.get("type") or ""
        if "html" in kind or ("plain" not in kind and markup.looks_like_html(value)):
            return None, value
        return value, None
    return None, None


def _date(entry: Any, name: str) -> datetime | None:
    # Our own parser first: feedparser reads "2020/1/10 14:33:00" as 1 November 2020.
    # dict.get: feedparser's own get() maps a missing `updated` to `published`, with a warning.
    parsed = dates.to_utc(dict.get(entry, name))
    if parsed is not None:
        return parsed
    struct = dict.get(entry, f"{name}_parsed")
    if isinstance(struct, time.struct_time):
        try:
            return datetime.fromtimestamp(timegm(struct), UTC)
        except (OverflowError, ValueError, OSError):
            return None
    return None


def _byline(entry: Any) -> str | None:
    raw = [a.get("name") for a in entry.get("authors") or [] if isinstance(a, dict)]
    names = [n.strip() for n in raw if isinstance(n, str) and n.strip()]
    return ", ".join(dict.fromkeys(names)) if names else _first_text(entry.get("author"))


def _first_text(*candidates: Any) -> str | None:
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None
