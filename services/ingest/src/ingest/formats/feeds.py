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
_MRSS_PREFIX = re.compile(r"""xmlns:([A-Za-z_][\w.\-]*)\s*=\s*["']http://search\.yahoo\.com/mrss/?["']""")
# feedparser files a Media RSS caption under the item's own summary or content, whichever is
# still free, so a photo caption can displace the story. Renamed, it lands in `media_caption`.
_MEDIA_CAPTION = "caption"


def parse_feed(text: str) -> tuple[str, Any]:
    """The format name ("rss" or "atom") and feedparser's result for a decoded feed."""
    # Already decoded to str: hand feedparser UTF-8 and a declaration that says so. A stream,
    # never bytes or str: feedparser would treat those as a file name or a URL to fetch.
    body = '<?xml version="1.0" encoding="utf-8"?>' + _XML_DECL.sub("", text, count=1)
    body = _rename_media_descriptions(body)
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
    # RFC 4287 4.2.1: an Atom entry without an author has the feed's. RSS has no such rule.
    feed_byline = _byline(result.feed) if (result.get("version") or "").startswith("atom") else None
    return [
        _entry(entry, index, digest, feed_language, feed_byline)
        for index, entry in enumerate(result.entries)
    ]


def _rename_media_descriptions(body: str) -> str:
    for prefix in set(_MRSS_PREFIX.findall(body)):
        body = re.sub(rf"<(/?){re.escape(prefix)}:description\b",
                      rf"<\g<1>{prefix}:{_MEDIA_CAPTION}", body)
    return body


def _entry(entry: Any, index: int, digest: str, feed_language: str | None,
           feed_byline: str | None) -> Draft:
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
        language=_first_text(entry.get("language"), title.get("language"), feed_language),
        headlines=[("main", headline)] if headline.strip() else [],
        body_text=body_text,
        body_html=body_html,
        byline=_byline(entry) or feed_byline,
        subjects=[subject for subject in map(_subject, entry.get("tags") or []) if subject],
    )


def _subject(tag: Any) -> Subject | None:
    """A category; its RSS `domain` or Atom `scheme` says which vocabulary the term is from."""
    term = _first_text(tag.get("term"))
    label = _first_text(tag.get("label"))
    if not term and not label:
        return None
    return Subject(
        code=term if label and term and label != term else None,
        name=label or term,
        scheme=_first_text(tag.get("scheme")) or "category",
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
    caption = _first_text(dict.get(entry, f"media_{_MEDIA_CAPTION}"))
    return caption, None


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
