"""The format-neutral draft every format module fills, and the one place that turns it into an
Article: minting, embargo rules, sanitizing and validation happen here and nowhere else."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import ValidationError

from shared.article import (
    Article,
    Association,
    Body,
    Entity,
    Headline,
    PubStatus,
    Source,
    Subject,
)
from shared.identifiers import UNSAFE_IN_ID

from ingest import dates, markup, values
from ingest.errors import InvalidArticle, PayloadTooLarge
from ingest.limits import DEFAULT_LIMITS, Limits

_Part = TypeVar("_Part", Subject, Entity)
# The end of a first sentence: a stop after a word of two letters or more (not "U.S." or an
# initial), then a space and a capital, a digit or a quote.
_ABBREVIATIONS = frozenset({
    "mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "sen.", "rep.", "gov.", "gen.", "col.", "lt.",
    "sgt.", "capt.", "rev.", "jr.", "sr.", "no.", "vs.", "etc.", "inc.", "ltd.", "co.", "corp.",
    "jan.", "feb.", "mar.", "apr.", "aug.", "sept.", "sep.", "oct.", "nov.", "dec.", "hr.",
    "fr.", "mme.", "sra.", "nr.", "bzw.", "ca.", "dt.",
})  # fmt: skip
# An article's JSON beside its strings: field names, braces, numbers, dates (`_surely_within`).
_JSON_FRAME_BYTES = 4096
_JSON_PART_BYTES = 64
_SENTENCE_END = re.compile(r"(?<=[^\W\d_]{2}[.!?])\s+(?=[\"'\u201c\u2018(\[]?[^\W_a-z])")


@dataclass
class Draft:
    """One item as read from the wire; raw values are coerced by `build`."""

    label: str  # how error messages name the item (its id, or its position)
    raw_hash: str
    uri: str | None = None  # None: mint one; "" (or blank): refused
    version: object = None
    version_created: object = None
    first_created: object = None
    pub_status: object = None
    embargoed: object = None
    urgency: object = None
    language: object = None
    type: str | None = None
    headlines: list[tuple[str, str]] = field(default_factory=list)  # (role, value)
    body_text: str | None = None
    body_html: str | None = None  # unsanitized; sanitized here
    slugline: str | None = None
    byline: str | None = None
    ed_notes: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    subjects: list[Subject] = field(default_factory=list)
    people: list[Entity] = field(default_factory=list)
    organisations: list[Entity] = field(default_factory=list)
    places: list[Entity] = field(default_factory=list)
    associations: list[Association] = field(default_factory=list)  # a package's members
    # Formats that can carry NITF: with no headline of any kind, the body's first sentence.
    headline_from_body: bool = False
    problem: InvalidArticle | None = None  # the format already knows the item is unusable


@dataclass(frozen=True)
class Notice:
    """A value of an accepted item that Newsflow could not use as sent, and what it did."""

    field: str
    message: str

    def wire(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def build(
    draft: Draft,
    *,
    provider: str,
    format: str,
    notices: list[Notice] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Article:
    """The canonical Article for a draft, or InvalidArticle naming the field at fault
    (PayloadTooLarge when it could not be stored).

    Agencies send odd values; one unreadable field does not cost the story. Such a value is
    left out (or brought into range, or cut to its limit) and, when ``notices`` is given,
    said there."""
    if draft.problem is not None:
        raise draft.problem
    notices = notices if notices is not None else []
    _check_identifier(draft.uri, "uri", draft.label)
    status = values.pub_status(draft.pub_status)
    notes = [note for note in (values.text(n) for n in draft.ed_notes) if note]
    embargo = None
    if not dates.is_no_date(draft.embargoed):
        embargo = dates.to_utc(draft.embargoed)
        if embargo is None and status is PubStatus.usable:
            # An embargo we cannot read must never turn into "publish now": hold the story.
            status = PubStatus.withheld
            notes.append(
                f"Held by Newsflow: the embargo {str(draft.embargoed)[:80]!r} is not a date; "
                "send a version with a machine-readable embargo to release it."
            )
            notices.append(
                Notice(
                    "embargoed",
                    f"{_shown(draft.embargoed)} is not a date; the "
                    "story is held (withheld) until a version with a readable "
                    "embargo arrives",
                )
            )
    if embargo is None and status is PubStatus.usable and values.says_embargoed(draft.pub_status):
        # Marked embargoed without saying until when: hold it rather than publish now.
        status = PubStatus.withheld
        notes.append(
            "Held by Newsflow: marked embargoed without an embargo time; send a "
            "version with one to release it."
        )
        notices.append(
            Notice(
                "pubStatus",
                "embargoed, but no embargo time was given; the "
                "story is held (withheld) until a version with one arrives",
            )
        )
    headlines = _headlines(draft.headlines, limits.headline_chars, notices)
    bodies = _bodies(draft.body_text, draft.body_html, draft.label, limits, notices)
    if not headlines and draft.headline_from_body and bodies:
        headlines = _headlines(
            [("main", first_sentence(_plain(bodies)))], limits.headline_chars, notices
        )
    if status is PubStatus.usable and not headlines and not bodies and not draft.associations:
        raise InvalidArticle(
            f"item {draft.label}: has neither a headline nor a body", field="headline"
        )
    uri = draft.uri
    if uri is not None and not uri.strip():
        raise InvalidArticle(f"item {draft.label}: uri is empty", field="uri")
    if uri is None:
        uri = mint_uri(provider, headlines[0].value if headlines else "", _plain(bodies))
    version = values.version(draft.version)
    if version is None and _given(draft.version):
        notices.append(
            Notice(
                "version",
                f"{_shown(draft.version)} is not a version number "
                "(a whole number from 0 to 2^62-1); the story is versioned by "
                "time",
            )
        )
    urgency = values.urgency(draft.urgency)
    if _given(draft.urgency) and (urgency is None or urgency != values.integer(draft.urgency)):
        notices.append(
            Notice(
                "urgency",
                f"{_shown(draft.urgency)} is not an urgency from 1 to "
                + (f"9; {urgency} is used" if urgency else "9; left out"),
            )
        )
    language = values.language(draft.language)
    if language is None and _given(draft.language):
        notices.append(
            Notice(
                "language",
                f"{_shown(draft.language)} is not a language tag; "
                "the language is detected from the text",
            )
        )
    created = {}
    for name, raw in (
        ("versionCreated", draft.version_created),
        ("firstCreated", draft.first_created),
    ):
        created[name] = dates.to_utc(raw)
        if created[name] is None and _given(raw) and not dates.is_no_date(raw):
            notices.append(Notice(name, f"{_shown(raw)} is not a date; left out"))
    try:
        article = Article(
            uri=uri.strip(),
            version=version,
            version_created=created["versionCreated"],
            first_created=created["firstCreated"],
            pub_status=status,
            embargoed_until=embargo,
            urgency=urgency,
            language=language,
            type=values.text(draft.type) or "text",
            headlines=headlines,
            bodies=bodies,
            slugline=_cut(values.text(draft.slugline), "slugline", limits.slugline_chars, notices),
            byline=_cut(values.text(draft.byline), "byline", limits.byline_chars, notices),
            ed_note=_cut(
                "\n".join(dict.fromkeys(notes)) or None, "edNote", limits.ed_note_chars, notices
            ),
            signals=list(dict.fromkeys(s for s in draft.signals if s))[: limits.concepts],
            source=Source(provider=provider, format=format, raw_hash=draft.raw_hash),
            subjects=_concepts(draft.subjects, "subjects", limits, notices),
            people=_concepts(draft.people, "people", limits, notices),
            organisations=_concepts(draft.organisations, "organisations", limits, notices),
            places=_concepts(draft.places, "places", limits, notices),
            associations=draft.associations[: limits.concepts],
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _field_name(error.get("loc", ()))
        raise InvalidArticle(
            f"item {draft.label}: {where} {error.get('msg', 'is invalid')}", field=where
        ) from exc
    return _storable(article, draft.label, limits.stored_bytes, notices)


def first_sentence(text: str) -> str:
    """The first sentence of a text (its first line when no sentence ends on it)."""
    line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    for match in _SENTENCE_END.finditer(line):
        word = line[: match.start()].rsplit(None, 1)[-1].lstrip("\"'(\u201c\u2018").lower()
        if word not in _ABBREVIATIONS:
            return line[: match.start()]
    return line


def _check_identifier(value: str | None, name: str, label: str) -> None:
    if value is not None and UNSAFE_IN_ID.search(value.strip()):
        raise InvalidArticle(
            f"item {label}: {name} holds a control or bidi character; an "
            "identifier is printable text only",
            field=name,
        )


def _cut(value: str | None, name: str, limit: int, notices: list[Notice]) -> str | None:
    if value is None or len(value) <= limit:
        return value
    notices.append(Notice(name, f"{len(value)} characters; cut to {limit}"))
    cut = value[:limit]
    space = cut.rfind(" ", limit * 3 // 4)
    return cut[:space] if space > 0 else cut


def _concepts(items: list[_Part], name: str, limits: Limits, notices: list[Notice]) -> list[_Part]:
    """Unique concepts within the limits: one with a value longer than a name or a code can
    be is left out; past the count limit, the rest are."""
    kept = [item for item in _unique(items) if _fits(item, limits.value_chars)]
    unique = len(_unique(items))
    if len(kept) < unique:
        notices.append(
            Notice(
                name,
                f"{unique - len(kept)} with a value over {limits.value_chars} characters left out",
            )
        )
    if len(kept) > limits.concepts:
        notices.append(Notice(name, f"{len(kept)} given; the first {limits.concepts} kept"))
    return kept[: limits.concepts]


def _fits(item: Subject | Entity, limit: int) -> bool:
    return all(
        len(value) <= limit for value in (item.name, item.uri, item.code, item.scheme) if value
    )


def _storable(article: Article, label: str, limit: int, notices: list[Notice]) -> Article:
    """The article as it can be stored: with both renditions of a body too large, the plain
    text alone; too large even then, PayloadTooLarge."""
    if _surely_within(article, limit):
        return article
    size = len(article.model_dump_json(by_alias=True, exclude_none=True))
    if size > limit and len(article.bodies) > 1:
        article = article.model_copy(
            update={"bodies": [b for b in article.bodies if b.content_type == "text/plain"]}
        )
        notices.append(
            Notice(
                "bodies",
                f"the HTML rendition was left out: with it the story "
                f"takes {size} bytes stored, over the {limit} a story may take; "
                "the plain text is kept",
            )
        )
        size = len(article.model_dump_json(by_alias=True, exclude_none=True))
    if size > limit:
        raise PayloadTooLarge(
            f"item {label}: the story takes {size} bytes stored; at most "
            f"{limit} (send the text without inline media)",
            field="body",
        )
    return article


def _surely_within(article: Article, limit: int) -> bool:
    """Whether the article's JSON is within ``limit`` bytes for sure, without serialising it
    (the usual story, a headline and a body of a few KB, is far under the limit).

    Only for an article without concepts, associations or enrichment, whose every string is
    counted here: a character takes at most 12 bytes in JSON (a control character escaped as
    \\u00XX, anything else at most a 4-byte UTF-8 sequence or two escaped surrogates), and the
    field names, quotes, punctuation, numbers and dates of all the rest take well under
    `_JSON_FRAME_BYTES`, `_JSON_PART_BYTES` more per headline, body or signal."""
    if (
        article.subjects
        or article.people
        or article.organisations
        or article.places
        or article.associations
        or article.located
        or article.keywords
        or article.descriptions
    ):
        return False
    source = article.source
    texts = [
        article.uri,
        article.type,
        article.language,
        article.slugline,
        article.byline,
        article.ed_note,
        source.provider,
        source.format,
        source.raw_hash,
        source.namespace,
        *article.signals,
    ]
    chars = sum(len(text) for text in texts if text)
    chars += sum(len(h.role) + len(h.value) for h in article.headlines)
    chars += sum(len(b.role) + len(b.content_type) + len(b.value) for b in article.bodies)
    parts = len(article.headlines) + len(article.bodies) + len(article.signals)
    return 12 * chars + _JSON_PART_BYTES * parts + _JSON_FRAME_BYTES <= limit


def _given(value: object) -> bool:
    """Whether the sender put a value there (an empty string is no value)."""
    return value is not None and not (isinstance(value, str) and not value.strip())


def _shown(value: object) -> str:
    return repr(str(value)[:60])


def mint_uri(provider: str, headline: str, body: str) -> str:
    """A stable uri for a source without ids, so that a repeat of the same story dedupes."""
    digest = hashlib.sha256((headline + body).encode("utf-8")).hexdigest()[:24]
    return f"urn:newsflow:{provider}:{digest}"


def raw_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def has_words(text: str | None) -> bool:
    """Placeholder content ("....." in skeleton messages) is no content."""
    return bool(text) and any(char.isalnum() for char in text)  # type: ignore[union-attr]


def _headlines(raw: list[tuple[str, str]], limit: int, notices: list[Notice]) -> list[Headline]:
    result: list[Headline] = []
    seen: set[tuple[str, str]] = set()
    for role, value in raw:
        text = _cut(values.text(value), "headlines", limit, notices)
        if not text or not has_words(text) or (role, text) in seen:
            continue
        seen.add((role, text))
        result.append(Headline(role=role or "main", value=text))
    if result and not any(h.role == "main" for h in result):
        result[0] = Headline(role="main", value=result[0].value)
    return result


def _bodies(
    text: str | None, html: str | None, label: str, limits: Limits, notices: list[Notice]
) -> list[Body]:
    clean = _sanitized(html, label, limits, notices) if html else ""
    plain = markup.normalize_text(text) if text else ""
    if clean and not plain:
        plain = markup.html_to_text(clean)
    if clean and not markup.looks_like_html(clean):
        clean = ""  # labelled HTML (RSS descriptions) but only text: one text body is enough
    if not has_words(plain):
        return []
    bodies = [Body(content_type="text/plain", value=plain)]
    if clean:
        bodies.append(Body(content_type="text/html", value=clean))
    return bodies


def _sanitized(html: str, label: str, limits: Limits, notices: list[Notice]) -> str:
    """Sanitized HTML, once the markup is known to cost the sanitizer linear time."""
    found = markup.shape(html, limits.attributes_per_element)
    if found.most_attributes > limits.attributes_per_element:
        raise InvalidArticle(
            f"item {label}: an element of the body has {found.most_attributes}"
            f" attributes; at most {limits.attributes_per_element}",
            field="body",
        )
    if found.depth > limits.nesting_depth:
        raise InvalidArticle(
            f"item {label}: the body nests elements {found.depth} deep; at "
            f"most {limits.nesting_depth}",
            field="body",
        )
    clean, cut = markup.sanitize(html, limits.value_chars)
    if cut:
        notices.append(
            Notice(
                "body",
                f"attribute values over {limits.value_chars} characters "
                "were cut (links that long left out)",
            )
        )
    return clean


def _plain(bodies: list[Body]) -> str:
    return next((b.value for b in bodies if b.content_type == "text/plain"), "")


def _unique(items: list[_Part]) -> list[_Part]:
    """First occurrence wins; sources repeat a concept (as a subject and as `located`)."""
    seen: set[tuple[str | None, ...]] = set()
    result: list[_Part] = []
    for item in items:
        key: tuple[str | None, ...] = (
            (item.name.lower(), item.type)
            if isinstance(item, Entity)
            else (item.code, item.name, item.scheme)
        )
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result


def _field_name(loc: tuple[int | str, ...]) -> str:
    name = str(loc[0]) if loc else "article"
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
