"""NewsML 1.2 (AFP, ANA-MPE, Business Wire style) NewsItems to drafts."""

from __future__ import annotations

from lxml import etree

from shared.article import Entity, Subject

from ingest import markup
from ingest.draft import Draft, raw_hash
from ingest.formats import nitf
from ingest.safexml import XML_LANG, attr_at, text_at

_BODY_ROLES = frozenset({"body", "main", "text", "story"})
_SIDE_ROLES = frozenset({"stylesheet", "logo", "headline", "contact", "caption", "photo"})
_TEXT_HINTS = ("text", "nitf", "html", "xhtml", "xml")
_PLACE_PROPERTIES = frozenset({"country", "city", "region", "place", "state", "location"})


def drafts(root: etree._Element, document: bytes) -> list[Draft]:
    items = [root] if root.tag == "NewsItem" else root.findall("NewsItem")
    envelope_priority = attr_at(root, "NewsEnvelope/Priority", "FormalName")
    single = len(items) == 1
    return [
        _item(item, raw_hash(document) if single else raw_hash(etree.tostring(item)),
              envelope_priority)
        for item in items
    ]  # fmt: skip


def _item(item: etree._Element, digest: str, envelope_priority: str | None) -> Draft:
    identifier = item.find("Identification/NewsIdentifier")
    management = item.find("NewsManagement")
    revision = identifier.find("RevisionId") if identifier is not None else None
    version = text_at(revision, ".")
    uri = _chain_id(text_at(identifier, "PublicIdentifier"), version) or _built_id(identifier)
    status = attr_at(management, "Status", "FormalName")
    embargo = None
    if status and status.lower() == "embargoed":
        embargo = text_at(management, "StatusWillChange/DateAndTime")
        embargo = embargo or "Status Embargoed without a release time"
    signals = []
    if revision is not None and (revision.get("PreviousRevision") or "0").strip() not in ("", "0"):
        signals.append("update")
    draft = Draft(
        label=repr(uri) if uri else "#1",
        raw_hash=digest,
        uri=uri,
        version=version,
        version_created=text_at(management, "ThisRevisionCreated"),
        first_created=text_at(management, "FirstCreated"),
        pub_status=status,
        embargoed=embargo,
        urgency=attr_at(management, "Urgency", "FormalName") or envelope_priority,
        language=attr_at(item, ".//DescriptiveMetadata/Language", "FormalName")
        or item.get(XML_LANG),
        headlines=_headlines(item) or _nitf_headlines(item),
        slugline=text_at(item, ".//NewsLines/SlugLine"),
        byline=text_at(item, ".//NewsLines/ByLine"),
        signals=signals,
        headline_from_body=True,
    )
    _add_topics(draft, item)
    _fill_body(draft, item)
    return draft


def _chain_id(public_id: str | None, version: str | None) -> str | None:
    """The PublicIdentifier without its trailing revision, so every revision of a story shares
    one uri (urn:newsml:afp.com:20140829T135002Z:TX-PAR-FXW86:1 -> ...:TX-PAR-FXW86)."""
    if not public_id:
        return None
    head, _, last = public_id.rpartition(":")
    if version and head.count(":") >= 3 and last.rstrip("AUN") == version:
        return head
    return public_id


def _built_id(identifier: etree._Element | None) -> str | None:
    parts = [text_at(identifier, tag) for tag in ("ProviderId", "DateId", "NewsItemId")]
    if not all(parts):
        return None
    return "urn:newsml:" + ":".join(p for p in parts if p)


def _headlines(item: etree._Element) -> list[tuple[str, str]]:
    result = [("main", text) for text in (text_at(h, ".") for h in item.iter("HeadLine")) if text]
    result += [
        ("subheadline", text)
        for text in (text_at(h, ".") for h in item.iter("SubHeadLine"))
        if text
    ]
    return result[:1] + [h for h in result[1:] if h[0] != "main"]


def _nitf_headlines(item: etree._Element) -> list[tuple[str, str]]:
    """Without NewsLines headlines, those of the first inline NITF document."""
    inline = next(item.iter("nitf"), None)
    return nitf.headlines(inline) if inline is not None else []


def _add_topics(draft: Draft, item: etree._Element) -> None:
    names = {}
    for topic in item.iter("Topic"):
        code = text_at(topic, "FormalName")
        name = next(
            (text_at(d, ".") for d in topic.findall("Description") if d.get("Variant") == "Name"
             and (d.get(XML_LANG) or "").lower().startswith("en")),
            None,
        ) or next((text_at(d, ".") for d in topic.findall("Description")), None)  # fmt: skip
        if code:
            names[code] = name
    for code_holder in item.iter("SubjectCode"):
        for element in code_holder:
            code = (element.get("FormalName") or "").strip()
            if code:
                draft.subjects.append(_subject(code, element.get("Scheme"), names.get(code)))
    for code, name in names.items():
        draft.subjects.append(_subject(code, None, name))
    for prop in item.iter("Property"):
        formal = (prop.get("FormalName") or "").strip()
        value = (prop.get("Value") or "").strip()
        if not formal or not value:
            continue
        if "keyword" in formal.lower():
            draft.subjects.append(Subject(name=value, scheme=formal))
        elif formal.lower() in _PLACE_PROPERTIES:
            draft.places.append(Entity(name=value, type=formal.lower()))


def _subject(code: str, scheme: str | None, name: str | None) -> Subject:
    if code.isdigit() and len(code) == 8 and (scheme or "iptc").lower().startswith("iptc"):
        return Subject(code=f"subj:{code}", scheme="subj", name=name)
    return Subject(code=code, scheme=scheme, name=name)


def _fill_body(draft: Draft, item: etree._Element) -> None:
    """The body is the text ContentItems of the Body/Main components (else of any component
    that is not side material such as a stylesheet, logo or contact block)."""
    preferred: list[str] = []
    others: list[str] = []
    texts: list[str] = []
    for content in item.iter("ContentItem"):
        if content.get("Href") or not _is_text(content):
            continue
        role = (attr_at(content.getparent(), "Role", "FormalName") or "").lower()
        if role in _SIDE_ROLES:
            continue
        data = content.find("DataContent")
        if data is None:
            continue
        html, text = _data(data)
        target = preferred if role in _BODY_ROLES else others
        if html:
            target.append(html)
        elif text:
            texts.append(text)
    chosen = preferred or others
    if chosen:
        draft.body_html = "\n".join(chosen)
    elif texts:
        draft.body_text = "\n\n".join(texts)


def _is_text(content: etree._Element) -> bool:
    kinds = " ".join(
        (attr_at(content, tag, "FormalName") or "").lower()
        for tag in ("MediaType", "Format", "MimeType")
    )
    return not kinds.strip() or any(hint in kinds for hint in _TEXT_HINTS)


def _data(data: etree._Element) -> tuple[str | None, str | None]:
    child = next((c for c in data if isinstance(c.tag, str)), None)
    if child is not None:
        if child.tag == "nitf":
            return nitf.body_of(child), None
        return markup.xml_to_html(child), None
    text = data.text or ""
    if markup.looks_like_html(text):
        return text, None
    return None, text if text.strip() else None
