"""NewsML-G2 newsItem, packageItem and newsMessage (namespaced or not) to drafts."""

from __future__ import annotations

from lxml import etree

from shared.article import Association, Entity, Headline, Subject
from shared.identifiers import UNSAFE_IN_ID

from ingest import markup, values
from ingest.draft import Draft, has_words, raw_hash
from ingest.errors import InvalidArticle, UnsupportedFormat
from ingest.formats import nitf
from ingest.safexml import XML_LANG, attr_at, text_at

ITEM_TAGS = frozenset({"newsItem", "packageItem"})
NON_NEWS_TAGS = frozenset({"conceptItem", "knowledgeItem", "planningItem", "catalogItem"})
_ENTITY_TYPES = {
    "person": ("people", "person"),
    "organisation": ("organisations", "organisation"),
    "organization": ("organisations", "organisation"),
    "geoarea": ("places", "place"),
    "poi": ("places", "place"),
    "place": ("places", "place"),
}
# inlineData renditions that are side material rather than the story text.
_SIDE_RENDITIONS = ("headline", "public", "nonpublic", "notepad", "caption", "abstract")
# A marked-up rendition this close in length to the longest plain one is the same story.
_SAME_STORY_SHARE = 0.8


def drafts(root: etree._Element, document: bytes) -> list[Draft]:
    if root.tag in ITEM_TAGS:
        return [_item(root, raw_hash(document))]
    items = [e for e in root.findall("itemSet/*") if isinstance(e.tag, str)]
    result: list[Draft] = []
    for index, element in enumerate(items):
        # One item: the document is the item. Several: each item's own serialisation.
        digest = raw_hash(document if len(items) == 1 else etree.tostring(element))
        if element.tag in ITEM_TAGS:
            result.append(_item(element, digest))
        else:
            label = element.get("guid") or f"#{index + 1}"
            problem = InvalidArticle(
                f"item {label}: a NewsML-G2 {element.tag} carries no news content", field="item"
            )
            result.append(Draft(label=label, raw_hash=digest, problem=problem))
    if not result:
        raise InvalidArticle("the newsMessage holds no items", field="itemSet")
    return result


def refuse_non_news(tag: str) -> None:
    raise UnsupportedFormat(f"a NewsML-G2 {tag} carries no news content")


def _item(item: etree._Element, digest: str) -> Draft:
    meta = item.find("itemMeta")
    content = item.find("contentMeta")
    guid = item.get("guid")
    label = repr(guid) if guid else "#1"
    item_class = _concept(meta, "itemClass")
    draft = Draft(
        label=label,
        raw_hash=digest,
        headline_from_body=True,
        uri=guid,
        version=item.get("version"),
        version_created=text_at(meta, "versionCreated"),
        first_created=text_at(meta, "firstCreated") or text_at(content, "contentCreated"),
        pub_status=_concept(meta, "pubStatus"),
        embargoed=text_at(meta, "embargoed"),
        urgency=text_at(content, "urgency"),
        language=attr_at(content, "language", "tag") or item.get(XML_LANG),
        type=values.qcode_code(item_class) if item_class else None,
        headlines=_headlines(content),
        slugline=text_at(content, "slugline"),
        byline=_byline(content),
        ed_notes=_ed_notes(meta),
        signals=_signals(meta),
    )
    _add_concepts(draft, content)
    if item.tag == "packageItem":
        _fill_package(draft, item)
    else:
        _fill_body(draft, item.find("contentSet"))
    if not draft.body_text and not draft.body_html:
        # A picture, graphic or remote-only item: its description (the caption) is its text.
        draft.body_text = _description(content)
    return draft


def _headlines(content: etree._Element | None) -> list[tuple[str, str]]:
    result = []
    for element in content.findall("headline") if content is not None else ():
        text = text_at(element, ".")
        role = values.qcode_code(element.get("role") or "main")
        if text:
            result.append(("main" if role.lower() in ("main", "headline") else role, text))
    return result


def _byline(content: etree._Element | None) -> str | None:
    if content is None:
        return None
    by = text_at(content, "by")
    if by:
        return by
    names = [
        text_at(creator, "name") or attr_at(creator, ".", "literal")
        for creator in content.findall("creator")
    ]
    return ", ".join(dict.fromkeys(name for name in names if name)) or None


def _description(content: etree._Element | None) -> str | None:
    descriptions = content.findall("description") if content is not None else []
    captions = [d for d in descriptions if "caption" in (d.get("role") or "").lower()]
    return next((text for text in map(_block_text, captions or descriptions) if text), None)


def _block_text(element: etree._Element) -> str | None:
    """A description's text; an XHTML one keeps its paragraphs."""
    if len(element) == 0:
        return element.text if element.text and element.text.strip() else None
    return markup.html_to_text(markup.xml_to_html(element)) or None


def _ed_notes(meta: etree._Element | None) -> list[str]:
    notes = [
        element
        for element in (meta.findall("edNote") if meta is not None else ())
        if "nonpublic" not in (element.get("pubconstraint") or "")
    ]
    plain = [n for n in notes if len(n) == 0]
    # Structured notes (XHTML notepads) repeat the plain ones and mix in non-public sections.
    return [t for t in (text_at(n, ".") for n in (plain or notes)) if t]


def _signals(meta: etree._Element | None) -> list[str]:
    result = []
    for element in meta.findall("signal") if meta is not None else ():
        qcode = element.get("qcode") or ""
        uri = element.get("uri") or ""
        if qcode.startswith("sig:"):
            result.append(values.qcode_code(qcode))
        elif "/newscodes/signal/" in uri:
            result.append(uri.rstrip("/").rsplit("/", 1)[-1])
    return result


def _concept(meta: etree._Element | None, path: str) -> str | None:
    """A concept's code: its ``qcode``, or the last segment of its ``uri`` (G2 allows either:
    ``uri="http://cv.iptc.org/newscodes/pubstatusg2/canceled"`` is a kill too)."""
    qcode = attr_at(meta, path, "qcode")
    if qcode:
        return qcode
    uri = attr_at(meta, path, "uri")
    return uri.rstrip("/").rsplit("/", 1)[-1] if uri else None


def _add_concepts(draft: Draft, content: etree._Element | None) -> None:
    """Subjects keep their qcode and scheme; typed ones (person, organisation, place) become
    entities; `located` is a place."""
    if content is None:
        return
    for element in content.findall("subject"):
        qcode = element.get("qcode")
        name = text_at(element, "name") or element.get("literal")
        kind = _ENTITY_TYPES.get(values.qcode_code(element.get("type") or "").lower())
        if kind and (name or qcode):
            entity = Entity(
                name=name or values.qcode_code(qcode or ""),
                type=kind[1],
                code=qcode,
                scheme=qcode.split(":", 1)[0] if qcode and ":" in qcode else None,
                uri=element.get("uri"),
            )
            getattr(draft, kind[0]).append(entity)
        elif qcode or name:
            draft.subjects.append(
                Subject(
                    code=qcode,
                    scheme=qcode.split(":", 1)[0] if qcode and ":" in qcode else None,
                    name=name,
                    uri=element.get("uri"),
                )
            )
    for element in content.findall("located"):
        qcode = element.get("qcode")
        name = text_at(element, "name") or element.get("literal") or values.qcode_code(qcode or "")
        if name:
            draft.places.append(
                Entity(
                    name=name,
                    type="place",
                    code=qcode,
                    scheme=qcode.split(":", 1)[0] if qcode and ":" in qcode else None,
                    uri=element.get("uri"),
                )
            )


def _fill_body(draft: Draft, content_set: etree._Element | None) -> None:
    """The richest story rendition, so that a NITF or XHTML abstract never stands in for the
    full text of another rendition: the longest text, though markup about as long is preferred
    (it carries the same story with its structure)."""
    renditions = [
        rendition
        for rendition in (_rendition(draft, element) for element in _story_renditions(content_set))
        if rendition is not None
    ]
    if not renditions:
        return
    longest = max(length for length, _, _ in renditions)
    marked_up = [r for r in renditions if r[1] and r[0] >= longest * _SAME_STORY_SHARE]
    _, is_html, value = max(marked_up or renditions, key=lambda rendition: rendition[0])
    if is_html:
        draft.body_html = value
    else:
        draft.body_text = value


def _story_renditions(content_set: etree._Element | None) -> list[etree._Element]:
    if content_set is None:
        return []
    return [
        element
        for element in content_set
        if element.tag in ("inlineXML", "inlineData")
        and not any(side in (element.get("rendition") or "").lower() for side in _SIDE_RENDITIONS)
    ]


def _rendition(draft: Draft, element: etree._Element) -> tuple[int, bool, str] | None:
    """(text length, is HTML, value) of one inline rendition, or None when it has no words."""
    if element.tag == "inlineData":
        text = element.text or ""
        if not has_words(text):
            return None
        kind = (element.get("contenttype") or "text/plain").lower()
        is_html = "html" in kind or markup.looks_like_html(text)
        plain = markup.html_to_text(text) if is_html else text
        return len(plain.strip()), is_html, text
    child = next((c for c in element if isinstance(c.tag, str)), None)
    if child is None:
        return None
    body = child.find(".//body") if child.tag == "html" else None
    if child.tag == "nitf":
        draft.headlines = draft.headlines or nitf.headlines(child)
        draft.byline = draft.byline or nitf.byline(child)
        html = nitf.body_of(child)
    elif body is not None and len(body) == 0:
        # An XHTML body of bare lines (result tables) reads better as the text it is.
        text = body.text or ""
        return (len(text.strip()), False, text) if has_words(text) else None
    else:
        html = markup.xml_to_html(child)
    if not html:
        return None
    plain = markup.html_to_text(html)
    return (len(plain), True, html) if has_words(plain) else None


def _fill_package(draft: Draft, package: etree._Element) -> None:
    """A package is what it is: a composite carrying the items it references (ninjs 3
    ``associations``), readable through its own headline and those of its members."""
    draft.type = "composite"
    refs = package.findall(".//groupSet//itemRef") or package.findall(".//itemRef")
    lines = []
    for ref in refs:
        headline = text_at(ref, "headline") or text_at(ref, "title")
        description = text_at(ref, "description")
        if headline or description:
            lines.append("\n".join(part for part in (headline, description) if part))
        association = _association(ref)
        if association is not None:
            draft.associations.append(association)
    if not draft.headlines and lines:
        draft.headlines = [("main", lines[0].split("\n", 1)[0])]
    if lines:
        draft.body_text = "\n\n".join(lines)
    killed = values.qcode_code(str(draft.pub_status or "usable")).lower() != "usable"
    if not draft.headlines and not lines and not draft.associations and not killed:
        draft.problem = InvalidArticle(
            f"packageItem {draft.label}: references no item and has no headline of its own; "
            "nothing readable",
            field="headline",
        )


def _association(ref: etree._Element) -> Association | None:
    uri = (ref.get("residref") or ref.get("href") or "").strip()
    if not uri or len(uri) > 2048 or UNSAFE_IN_ID.search(uri):
        return None
    group = ref.getparent()
    role = group.get("role") if group is not None and group.tag == "group" else None
    item_class = attr_at(ref, "itemClass", "qcode") or ref.get("contenttype")
    headline = text_at(ref, "headline") or text_at(ref, "title")
    return Association(
        name=values.qcode_code(role) if role else None,
        uri=uri,
        version=values.version(ref.get("version")),
        rel=(ref.get("rel") or "").strip() or None,
        type=values.qcode_code(item_class) if item_class else None,
        headlines=[Headline(value=headline[:1000])] if headline else [],
    )
