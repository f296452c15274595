"""NITF 3.x (standalone, namespaced or not, and inline in NewsML) to drafts."""

from __future__ import annotations

from lxml import etree

from shared.article import Entity, Subject

from ingest import markup
from ingest.draft import Draft
from ingest.safexml import XML_LANG, attr_at, text_at

_ENTITY_TAGS = {
    "person": ("people", "person"),
    "org": ("organisations", "organisation"),
    "location": ("places", "place"),
}


def drafts(root: etree._Element, digest: str) -> list[Draft]:
    head = root.find("head")
    docdata = head.find("docdata") if head is not None else None
    uri = attr_at(docdata, "doc-id", "id-string")
    body_html = body_of(root)
    ed_notes = [attr_at(docdata, "ed-msg", "info") or ""]
    signals = []
    correction = docdata.find("correction") if docdata is not None else None
    if correction is not None and (correction.get("info") or "").strip():
        signals.append("correction")
        ed_notes.append(correction.get("info", ""))
    people, organisations, places = entities(root)
    return [
        Draft(
            label=repr(uri) if uri else "#1",
            raw_hash=digest,
            uri=uri,
            version_created=attr_at(docdata, "date.issue", "norm")
            or attr_at(docdata, "pubdata", "date.publication")
            or attr_at(head, "pubdata", "date.publication"),
            pub_status=docdata.get("management-status") if docdata is not None else None,
            embargoed=attr_at(docdata, "date.release", "norm")
            or text_at(docdata, "embargo")
            or attr_at(docdata, "embargo", "norm"),
            urgency=attr_at(head, ".//urgency", "ed-urg"),
            language=root.get("baselang") or root.get(XML_LANG),
            headlines=headlines(root),
            headline_from_body=True,
            body_html=body_html,
            slugline=attr_at(docdata, "du-key", "key"),
            byline=byline(root),
            ed_notes=ed_notes,
            signals=signals,
            subjects=subjects(head),
            people=people,
            organisations=organisations,
            places=places,
        )
    ]


def headlines(nitf: etree._Element) -> list[tuple[str, str]]:
    """``hedline/hl1`` (with its ``hl2`` subheadlines), else the document's ``head/title``."""
    hedline = nitf.find(".//body.head/hedline")
    main = text_at(hedline, "hl1")
    subs = [text_at(h, ".") for h in hedline.iter("hl2")] if hedline is not None else []
    first = [("main", main)] if main else _title(nitf.find("head"))
    return first + [("subheadline", s) for s in subs if s]


def byline(nitf: etree._Element) -> str | None:
    """Every byline of the story; a byline's parts (bytag, person, byttl) are separate words."""
    lines = [
        text_at(element, "person") or _spaced_text(element)
        for element in nitf.findall(".//body.head/byline")
    ]
    return "; ".join(dict.fromkeys(line for line in lines if line)) or None


def body_of(nitf: etree._Element) -> str | None:
    """body.content as an HTML fragment, or None when it has no text."""
    content = nitf.find(".//body.content")
    if content is None or not "".join(content.itertext()).strip():
        return None
    html = markup.xml_to_html(content)
    # body.end holds the tagline ("X contributed to this report"), part of the story text.
    end = nitf.find(".//body.end")
    if end is not None and "".join(end.itertext()).strip():
        html += markup.xml_to_html(end)
    return html


def subjects(head: etree._Element | None) -> list[Subject]:
    result = []
    for element in head.iter("tobject.subject") if head is not None else ():
        refnum = (element.get("tobject.subject.refnum") or "").strip()
        name = next(
            (
                value.strip()
                for key in ("detail", "matter", "type")
                if (value := element.get(f"tobject.subject.{key}")) and value.strip()
            ),
            None,
        )
        if refnum or name:
            code = f"subj:{refnum}" if refnum.isdigit() and len(refnum) == 8 else refnum or None
            result.append(Subject(code=code, scheme="subj" if code else None, name=name))
    return result


def entities(nitf: etree._Element) -> tuple[list[Entity], list[Entity], list[Entity]]:
    """People, organisations and places from identified-content and inline body markup."""
    found: dict[str, list[Entity]] = {"people": [], "organisations": [], "places": []}
    scopes = [nitf.find(".//docdata/identified-content"), nitf.find(".//body.content")]
    for scope in scopes:
        if scope is None:
            continue
        for tag, (kind, type_) in _ENTITY_TAGS.items():
            for element in scope.iter(tag):
                name = _spaced_text(element, ", ") or (element.get("value") or "").strip()
                if name:
                    # `value` is the entity's code, `idsrc` the source (scheme) of that code.
                    code = (element.get("value") or "").strip() or None
                    scheme = (element.get("idsrc") or "").strip() or None
                    found[kind].append(Entity(name=name, type=type_, code=code,
                                              scheme=scheme if code else None))
    return found["people"], found["organisations"], found["places"]


def _spaced_text(element: etree._Element, separator: str = " ") -> str | None:
    """The text of an element whose child elements are separate parts (a location's city and
    country, a byline's name and title), not runs of one word."""
    if len(element) == 0:
        return text_at(element, ".")
    parts = [" ".join(part.split()) for part in element.itertext()]
    text = separator.join(part for part in parts if any(char.isalnum() for char in part))
    return text or None


def _title(head: etree._Element | None) -> list[tuple[str, str]]:
    title = text_at(head, "title")
    return [("main", title)] if title else []
