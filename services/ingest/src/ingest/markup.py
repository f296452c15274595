"""Body markup: nh3-sanitized HTML and its plain text, blank lines between paragraphs."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import nh3
from lxml import etree, html

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "div", "dl",
    "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "li", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
}  # fmt: skip
_CLEANER_OPTIONS: dict[str, Any] = dict(
    tags=_ALLOWED_TAGS,
    clean_content_tags={
        "script",
        "style",
        "head",
        "title",
        "iframe",
        "object",
        "embed",
        "noscript",
    },
    attributes={
        "a": {"href", "hreflang", "title"},
        "img": {"src", "alt", "width", "height"},
        "td": {"colspan", "rowspan"},
        "th": {"colspan", "rowspan", "scope"},
        "ol": {"start"},
        "blockquote": {"cite"},
        "q": {"cite"},
        "time": {"datetime"},
    },
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer",
)
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "center", "dd", "details", "div",
        "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
# NITF and wire XML vocabularies mapped to their HTML meaning before sanitizing.
_XML_TO_HTML = {
    "body.content": "div", "body.end": "div", "block": "div", "hl1": "h2", "hl2": "h3",
    "bq": "blockquote", "tagline": "p", "nitf-table": "table", "nitf-table-summary": "caption",
    "section": "div", "article": "div", "main": "div", "fn": "p", "ol": "ol", "dl": "dl",
}  # fmt: skip
# Metadata that some providers put inside the body markup (dpa: slugline list and h1 in header).
_DROPPED = frozenset({"head", "header", "title", "media", "nitf-table-metadata", "meta"})
_HTML_HINT = re.compile(
    r"<(?:p|br|div|span|a|b|i|em|strong|ul|ol|li|h[1-6]|table|img|blockquote|figure)\b[^<>]*/?>",
    re.IGNORECASE,
)
# A tag: `<`, an optional `/`, its name, then anything up to `>` but `<`, where a quoted value
# may hold either. Alternatives that start with different characters: no backtracking.
_TAG = re.compile(r"""<(/?)([A-Za-z][^\s/<>]*)((?:[^<>"']+|"[^"]*"|'[^']*')*)""")
_QUOTED = re.compile(r""""[^"]*"|'[^']*'""")
_ATTRIBUTE = re.compile(r"[^\s=/]+(?:\s*=\s*[^\s=]*)?")
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
# Void elements and those a parser closes by itself when the next one opens: they never
# nest deep in real markup, so they are not counted as nesting.
_NOT_NESTING = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "rb", "rt",
    "rp", "tbody", "thead", "tfoot", "colgroup", "caption",
})  # fmt: skip


def looks_like_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text))


@dataclass(frozen=True)
class Shape:
    """What a linear scan of an HTML fragment's tags finds: the costs a parser would pay."""

    tags: int
    most_attributes: int
    depth: int


def shape(markup: str, attributes_from: int = 0) -> Shape:
    """Tags, the most attributes on one element and the deepest nesting of block elements.

    One pass of regular expressions without backtracking; it reads tags (quoted values may
    hold `<` and `>`) as an HTML tokenizer does, closely enough to bound what the sanitizer
    (whose cost grows with the square of attributes per element and of nesting) will meet.
    Attributes are counted only on tags long enough to hold ``attributes_from`` of them.
    """
    shortest = 2 * attributes_from
    tags = most = depth = deepest = 0
    for match in _TAG.finditer(markup):
        tags += 1
        closing, name, rest = match.group(1), match.group(2).lower(), match.group(3)
        if len(rest) > shortest:
            attributes = len(_ATTRIBUTE.findall(_QUOTED.sub("v", rest)))
            most = max(most, attributes)
        if name in _NOT_NESTING:
            continue
        if closing:
            depth = max(0, depth - 1)
        elif not rest.rstrip().endswith("/"):
            depth += 1
            deepest = max(deepest, depth)
    return Shape(tags, most, deepest)


def sanitize(markup: str, value_chars: int = 1_000) -> tuple[str, bool]:
    """HTML safe to hand to any subscriber: no scripts, styles, event handlers or unsafe URLs;
    attribute values cut to ``value_chars`` (a URL that long is dropped: cut, it would point
    elsewhere). Also says whether any value was cut or dropped."""
    cut: list[str] = []

    def bounded(element: str, attribute: str, value: str) -> str | None:
        if len(value) <= value_chars:
            return value
        cut.append(attribute)
        return None if attribute in _URL_ATTRIBUTES else value[:value_chars]

    cleaner = nh3.Cleaner(**_CLEANER_OPTIONS, attribute_filter=bounded)
    return cleaner.clean(markup).strip(), bool(cut)


def xml_to_html(element: etree._Element) -> str:
    """An XHTML or NITF body subtree (namespaces already stripped) as an HTML fragment."""
    tree = copy.deepcopy(element)
    tree.tail = None
    # Dropped first: the text around a dropped node joins its neighbours and is compacted below.
    for node in [n for n in tree.iter() if n.tag in _DROPPED and n is not tree]:
        _remove_keeping_tail(node)
    for node in tree.iter():
        if not isinstance(node.tag, str):
            continue
        node.tag = _XML_TO_HTML.get(node.tag, node.tag)
        for name in list(node.attrib):
            if name.startswith("{"):
                del node.attrib[name]
        if node.tag != "pre":
            # Indentation of the XML source is not content; keep the HTML compact.
            node.text = _squash(node.text) if node.text else node.text
            node.tail = _squash(node.tail) if node.tail else node.tail
    if tree.tag in ("html", "body", "nitf"):
        body = tree.find(".//body") if tree.tag != "body" else tree
        tree = body if body is not None else tree
    if tree.tag in ("body",):
        tree.tag = "div"
    return etree.tostring(tree, method="html", encoding="unicode").strip()


def html_to_text(markup: str) -> str:
    """Readable plain text: one paragraph per block element, paragraphs separated by blank lines."""
    if not markup.strip():
        return ""
    try:
        root = html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return normalize_text(re.sub(r"<[^>]+>", " ", markup))
    paragraphs: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        text = _collapse("".join(buffer))
        buffer.clear()
        if text:
            paragraphs.append(text)

    for event, node in etree.iterwalk(root, events=("start", "end")):
        tag = node.tag if isinstance(node.tag, str) else ""
        if event == "start":
            if tag in _BLOCKS:
                flush()
            elif tag == "br":
                buffer.append("\n")
            elif tag in ("td", "th"):
                buffer.append(" ")
            if node.text and tag:
                buffer.append(_squash(node.text))
        else:
            if tag in _BLOCKS:
                flush()
            if node.tail and node is not root:
                buffer.append(_squash(node.tail))
    flush()
    return "\n\n".join(paragraphs)


def normalize_text(text: str) -> str:
    """Plain text with its paragraphs kept: line ends unified, lines trimmed, blank-looking
    lines made blank, runs of blank lines reduced to one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line.strip():
            out.append(line)
        elif out and out[-1] != "":
            out.append("")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out)


def one_line(text: str | None) -> str:
    """Whitespace (newlines and indentation inside XML elements) collapsed to single spaces."""
    return " ".join(text.split()) if text else ""


def _squash(text: str) -> str:
    """Each run of whitespace as one space, ends included (a regular expression substitution
    costs a match per word: seconds on a 10 MB body)."""
    inner = " ".join(text.split())
    if not inner:
        return " "
    return (" " if text[0].isspace() else "") + inner + (" " if text[-1].isspace() else "")


def _collapse(text: str) -> str:
    # Source newlines were already folded to spaces; the remaining ones are <br>.
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(line for line in lines if line)


def _remove_keeping_tail(node: etree._Element) -> None:
    parent = node.getparent()
    if parent is None:
        return
    if node.tail:
        previous = node.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + node.tail
        else:
            parent.text = (parent.text or "") + node.tail
    parent.remove(node)
