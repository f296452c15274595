"""Hardened XML loading: entity and DTD attacks refused up front, no network, bounded trees."""

from __future__ import annotations

import re
from html.entities import name2codepoint

from lxml import etree

from ingest.errors import ParseError, UnsafeDocument

_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)
_SUBSET_END = re.compile(r"\]\s*>")
# HTML's named references; XML's own five are left to the parser (and cost no Python call).
_NAMED_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{1,31});")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_NAME = re.compile(r"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


def root_name(text: str) -> str | None:
    """The local name of the root element, read from the prolog without parsing the document.

    Also refuses a DOCTYPE that declares entities (billion laughs, external entities) before
    any parser sees it.
    """
    return _scan_prolog(text)[0]


def _scan_prolog(text: str) -> tuple[str | None, tuple[int, int] | None]:
    """The root element's local name and where the DOCTYPE declaration is, if any."""
    pos, end = 0, len(text)
    doctype: tuple[int, int] | None = None
    while pos < end:
        lt = text.find("<", pos, end)
        if lt < 0:
            return None, doctype
        if text.startswith("<?", lt):
            pos = _after(text, "?>", lt)
        elif text.startswith("<!--", lt):
            pos = _after(text, "-->", lt)
        elif _DOCTYPE.match(text, lt):
            pos = _after_doctype(text, lt)
            doctype = (lt, pos)
        else:
            match = _NAME.match(text, lt)
            return (match.group(2) if match else None), doctype
    return None, doctype


def named_references(text: str) -> int:
    """How many HTML named references (`&nbsp;`) `load` will rewrite, one by one."""
    return len(_NAMED_ENTITY.findall(text))


def load(text: str) -> etree._Element:
    """Parse a whole document strictly; element namespaces are dropped so that the same code
    reads namespaced and un-namespaced variants of a format."""
    _, doctype = _scan_prolog(text)
    if doctype:
        # Entity-free by now; dropped so libxml2 never even tries to fetch the DTD it names.
        text = text[: doctype[0]] + text[doctype[1] :]
    text = _XML_DECL.sub("", text, count=1).lstrip("\ufeff")
    body = _NAMED_ENTITY.sub(_numeric_entity, text).encode("utf-8")
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        raise ParseError(f"malformed XML at line {line}, column {column}: {exc.msg}") from exc
    if root is None:
        raise ParseError("empty XML document")
    strip_namespaces(root)
    return root


def strip_namespaces(root: etree._Element) -> None:
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and tag.startswith("{"):
            element.tag = tag.split("}", 1)[1]


def _parser() -> etree.XMLParser:
    # A new parser per document: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def _after(text: str, token: str, start: int) -> int:
    found = text.find(token, start)
    if found < 0:
        raise ParseError("malformed XML: unterminated prolog construct")
    return found + len(token)


def _after_doctype(text: str, start: int) -> int:
    gt = text.find(">", start)
    bracket = text.find("[", start)
    if gt < 0:
        raise ParseError("malformed XML: unterminated DOCTYPE")
    if bracket < 0 or bracket > gt:
        return gt + 1
    close = _SUBSET_END.search(text, bracket)
    subset = text[bracket : close.start() if close else len(text)]
    if "<!ENTITY" in subset.upper():
        raise UnsafeDocument("the document declares XML entities (DTD entity attack refused)")
    if close is None:
        raise ParseError("malformed XML: unterminated DOCTYPE internal subset")
    return close.end()


def _numeric_entity(match: re.Match[str]) -> str:
    """HTML entities (`&nbsp;`) are common in NITF that names a DTD we never load."""
    name = match.group(1)
    if name in _XML_ENTITIES or name not in name2codepoint:
        return match.group(0)
    return f"&#{name2codepoint[name]};"


XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def text_at(element: etree._Element | None, path: str) -> str | None:
    """Whitespace-collapsed text of the first element at `path` (None when absent or empty)."""
    if element is None:
        return None
    found = element.find(path) if path != "." else element
    if found is None:
        return None
    text = " ".join("".join(found.itertext()).split())
    return text or None


def attr_at(element: etree._Element | None, path: str, name: str) -> str | None:
    if element is None:
        return None
    found = element.find(path) if path != "." else element
    value = found.get(name) if found is not None else None
    return value.strip() if value and value.strip() else None
