"""The ingest entry point: sniff the format of any bytes and parse them into canonical articles.

parse(raw, content_type, provider=...)  -> list[Article]   (raises IngestError subclasses)
parse_document(...)                     -> Parsed          (articles + per-item rejections)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import structlog

from shared.article import Article

from ingest import decoding, safexml
from ingest.draft import Draft, Notice, build, raw_hash
from ingest.errors import (
    IngestError,
    InvalidArticle,
    ParseError,
    PayloadTooLarge,
    UnsupportedFormat,
)
from ingest.formats import feeds, jsonfeed, jsonshape, newsml12, newsml_g2, ninjs, nitf, text
from ingest.limits import DEFAULT_LIMITS, Limits

log = structlog.get_logger()

FORMATS: tuple[str, ...] = (
    "native",
    "ninjs",
    "jsonfeed",
    "newsml-g2",
    "nitf",
    "newsml-1.2",
    "rss",
    "atom",
    "text",
)
_FEED_ROOTS = frozenset({"rss", "feed", "RDF"})
_JSON_ARRAY_START = re.compile(r"\[\s*[\[{\"\d\-tfn\]]")
# The elements that are one item each in the XML formats (RSS, Atom, NewsML-G2, NewsML 1.2).
_ITEM_TAG = re.compile(r"<(?:[\w.\-]+:)?(?:item|entry|newsItem|packageItem|NewsItem)[\s/>]")
DEFAULT_MAX_ITEMS = 1000
_TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown")
# Declared types that are never a news document, whatever the bytes look like.
_NOT_NEWS_TYPES = ("image/", "audio/", "video/", "font/", "model/")


@dataclass(frozen=True)
class Rejection:
    """One item of a document that could not become an article, and why."""

    item: str
    error: IngestError


@dataclass(frozen=True)
class Parsed:
    format: str
    articles: list[Article] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    notices: list[list[Notice]] = field(default_factory=list)  # per article, in order

    def raise_if_empty(self) -> None:
        """A document of which no item is usable is refused as a whole."""
        if self.articles:
            return
        if not self.rejections:
            raise InvalidArticle("the document holds no items", field="items")
        first = self.rejections[0].error
        if len(self.rejections) == 1:
            raise first
        reasons = "; ".join(r.error.message for r in self.rejections[:5])
        more = f" (and {len(self.rejections) - 5} more)" if len(self.rejections) > 5 else ""
        raise type(first)(
            f"none of the {len(self.rejections)} items is usable: {reasons}{more}",
            field=first.field,
        )


def parse(
    raw: bytes,
    content_type: str | None = None,
    *,
    provider: str,
    max_bytes: int = 10_000_000,
    max_items: int = DEFAULT_MAX_ITEMS,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Article]:
    """One Article per item of the document, whatever its format.

    Raises only IngestError subclasses: PayloadTooLarge, UnsupportedFormat, ParseError (and
    UnsafeDocument), InvalidArticle. Items that are unusable inside an otherwise good document
    are logged and left out; when none is usable the document is refused.
    """
    return parse_checked(raw, content_type, provider=provider, max_bytes=max_bytes,
                         max_items=max_items, limits=limits).articles


def parse_checked(
    raw: bytes,
    content_type: str | None = None,
    *,
    provider: str,
    max_bytes: int = 10_000_000,
    max_items: int = DEFAULT_MAX_ITEMS,
    limits: Limits = DEFAULT_LIMITS,
) -> Parsed:
    """Like `parse`, keeping the items left out so that a caller can report them."""
    try:
        parsed = parse_document(raw, content_type, provider=provider, max_bytes=max_bytes,
                                max_items=max_items, limits=limits)
        parsed.raise_if_empty()
    except IngestError:
        raise
    except Exception as exc:
        # A parser defect must still reach the sender as a 4xx, never a 500; logged here once.
        log.exception("parse.crashed", provider=provider, bytes=len(raw))
        raise ParseError("the document could not be parsed") from exc
    for article, notices in zip(parsed.articles, parsed.notices, strict=True):
        for notice in notices:
            log.info("parse.value_ignored", provider=provider, format=parsed.format,
                     uri=article.uri, field=notice.field, reason=notice.message)
    for rejection in parsed.rejections:
        log.warning(
            "parse.item_rejected",
            provider=provider,
            format=parsed.format,
            item=rejection.item,
            field=rejection.error.field,
            reason=rejection.error.message,
        )
    return parsed


def parse_document(
    raw: bytes,
    content_type: str | None = None,
    *,
    provider: str,
    max_bytes: int = 10_000_000,
    max_items: int = DEFAULT_MAX_ITEMS,
    limits: Limits = DEFAULT_LIMITS,
) -> Parsed:
    """Like `parse`, but keeps the per-item rejections and does not turn defects into
    ParseError (tests and the corpus bench rely on seeing them)."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the document is {len(raw)} bytes; the limit is {max_bytes}")
    hint = (content_type or "").split(";", 1)[0].strip().lower()
    _refuse_declared(hint)
    document = decoding.decode(raw, content_type)
    stripped = document.lstrip("\ufeff \t\r\n\f\v\u00a0")
    if not stripped.strip():
        raise ParseError("the document is empty")
    first = stripped[0]
    declared_json = _is_json_type(hint)
    looks_json = first == "{" or bool(_JSON_ARRAY_START.match(stripped))
    if looks_json or (declared_json and first != "<"):
        try:
            value = jsonshape.load(stripped)
        except ParseError:
            # Broken JSON is an error, unless it may be prose: declared text, or opening with
            # a bracket JSON could not continue that way; declared JSON that is plain prose
            # is read as text below.
            prose = hint in _TEXT_TYPES or (not declared_json and _may_be_prose(stripped))
            if looks_json and not prose:
                raise
        else:
            return _json(value, stripped, raw, provider, max_items, limits)
    if first == "<" and not (hint in _TEXT_TYPES and _looks_like_prose(stripped)):
        return _xml(stripped, raw, provider, max_items, limits)
    return _finish("text", text.drafts(stripped, raw), provider, limits)


def _refuse_declared(hint: str) -> None:
    if hint.startswith("multipart/"):
        raise UnsupportedFormat(
            f"{hint} is a form upload; send the document itself as the request body "
            "(curl --data-binary @story.xml)", field="content-type")
    if hint.startswith(_NOT_NEWS_TYPES):
        raise UnsupportedFormat(f"{hint} is not a news document format", field="content-type")


def _may_be_prose(document: str) -> bool:
    """A text opening with a bracket that JSON could not continue the way it does:
    "{Draft} Ministers meet", "[1/3] Storm nears" (a JSON object goes on with a quote)."""
    after = document[1:].lstrip()[:1]
    if document[0] == "{":
        return after not in ('"', "}", "")
    return after not in ("{", "[", '"', "]", "")


def _is_json_type(hint: str) -> bool:
    return hint == "application/json" or hint.endswith("+json")


def _json(value: object, document: str, raw: bytes, provider: str, max_items: int,
          limits: Limits) -> Parsed:
    shape = jsonshape.classify(value)
    _check_count(len(shape.items), max_items)
    _check_markup(document.count("<"), limits)
    if shape.format == "jsonfeed":
        return _finish("jsonfeed", jsonfeed.drafts(shape.feed or {}, shape.items), provider,
                       limits)
    return _finish(shape.format, ninjs.drafts(shape.items, raw, shape.single), provider, limits)


def _xml(document: str, raw: bytes, provider: str, max_items: int, limits: Limits) -> Parsed:
    # Counted before any parser builds a tree: a 40,000-item feed is refused in milliseconds.
    _check_count(_count_items(document, max_items + 1), max_items)
    name = safexml.root_name(document)
    if name in _FEED_ROOTS:
        # feedparser takes the text between two references (`&quot;`, `&lt;`) one piece at a
        # time, in Python, and escaped markup is read again by the sanitizer: all count.
        _check_markup(document.count("<") + document.count("&") + document.count("&lt;"),
                      limits)
    else:
        _check_markup(document.count("<") + safexml.named_references(document), limits)
    if name is None:
        raise ParseError("malformed XML: no root element")
    if name.lower() == "html":
        raise UnsupportedFormat("an HTML page, not a feed")
    if name in _FEED_ROOTS:
        format_name, result = feeds.parse_feed(document)
        return _finish(format_name, feeds.drafts(result, raw), provider, limits)
    if name in newsml_g2.NON_NEWS_TAGS:
        newsml_g2.refuse_non_news(name)
    root = safexml.load(document)
    if root.tag in newsml_g2.ITEM_TAGS or root.tag == "newsMessage":
        return _finish("newsml-g2", newsml_g2.drafts(root, raw), provider, limits)
    if root.tag == "nitf":
        return _finish("nitf", nitf.drafts(root, raw_hash(raw)), provider, limits)
    if root.tag in ("NewsML", "NewsItem"):
        return _finish("newsml-1.2", newsml12.drafts(root, raw), provider, limits)
    raise UnsupportedFormat(f"XML with root element <{root.tag}> is not a format Newsflow reads")


def _count_items(document: str, stop: int) -> int:
    """How many item elements the document opens, counting no further than ``stop``."""
    count = 0
    for _ in _ITEM_TAG.finditer(document):
        count += 1
        if count >= stop:
            break
    return count


def _check_count(count: int, max_items: int) -> None:
    if count > max_items:
        raise PayloadTooLarge(f"more than {max_items} items in one request; send them in "
                              "smaller batches", field="items")


def _check_markup(tags: int, limits: Limits) -> None:
    """Markup costs work per tag whatever its size: bounded per request (about half as many
    elements as tags), so that no request within the size limit takes long to read."""
    if tags > limits.markup_tags:
        raise PayloadTooLarge(f"about {tags} markup tags and references; at most "
                              f"{limits.markup_tags} in one "
                              "request (send fewer items per request)", field="body")


def _finish(format_name: str, drafts: list[Draft], provider: str, limits: Limits) -> Parsed:
    # Markup sent escaped (RSS descriptions, JSON strings) is only seen as tags now; the
    # sanitizer reads each character reference one by one too.
    _check_markup(sum(d.body_html.count("<") + d.body_html.count("&")
                      for d in drafts if d.body_html), limits)
    parsed = Parsed(format=format_name)
    for draft in drafts:
        notices: list[Notice] = []
        try:
            article = build(draft, provider=provider, format=format_name, notices=notices,
                            limits=limits)
        except (InvalidArticle, PayloadTooLarge) as exc:
            parsed.rejections.append(Rejection(item=draft.label, error=exc))
            continue
        parsed.articles.append(article)
        parsed.notices.append(notices)
    return parsed


def _looks_like_prose(document: str) -> bool:
    """Text declared text/plain that merely starts with '<' (a quote, an arrow) is prose."""
    return safexml.root_name(document) is None
