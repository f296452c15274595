"""Clean article text: drop boilerplate and decorative emoji, mark structure the NLP must skip.

The cleaned text is what readers get and what every later step works on: paragraphs separated by
one blank line, single spaces inside a paragraph. Section headings, bylines and the dateline stay
in the text (readers see them) but are marked, so that they never become entities, keywords or
summary sentences.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal

BlockKind = Literal["paragraph", "heading", "byline"]

# Decorative pictographs: flags (regional indicators), emoji blocks, dingbats, their modifiers
# (variation selectors, zero-width joiner, skin tones, keycaps, tag characters).
_EMOJI = re.compile(
    "["
    "\U0001f1e6-\U0001f1ff"
    "\U0001f300-\U0001f5ff"
    "\U0001f600-\U0001f64f"
    "\U0001f680-\U0001f6ff"
    "\U0001f700-\U0001f7ff"
    "\U0001f900-\U0001faff"
    "\u2600-\u26ff"
    "\u2700-\u27bf"
    "\u2b50\u2b55\u2b1b\u2b1c\u231a\u231b\u23e9-\u23fa"
    "\ufe0e\ufe0f\u200d\u20e3"
    "\U000e0020-\U000e007f"
    "]+"
)
_INVISIBLE = re.compile("[\u200b\u200c\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")

# A whole line that is site furniture, wherever it stands.
_BOILERPLATE = re.compile(
    r"""^(?:
        comments?(?:\s*\(\d+\))?
      | \d+\s+comments?
      | (?:leave|add|post|view|show)\s+(?:a\s+|all\s+)?comments?.*
      | share(?:\s+(?:this|on)\b.*)?
      | share\s+(?:this\s+)?(?:article|story|post)
      | (?:read|see)\s+(?:more|also|next)\b.{0,100}
      | related(?:\s+(?:articles?|stories|content|coverage))?\s*:?
      | more\s+on\s+this\s+story
      | follow\s+us\b.{0,100}
      | (?:like|follow|find)\s+us\s+on\b.{0,80}
      | (?:sign\s+up|subscribe)\b.{0,120}
      | click\s+here\b.{0,120}
      | advertisement | sponsored(?:\s+content)? | ad
      | (?:tweet|email|print|whatsapp|facebook|twitter|linkedin|pinterest)(?:\s*[|/·•,]\s*\w+)*
      | (?:©|\(c\)|copyright\b).{0,160}
      | all\s+rights\s+reserved\.?
      | (?:edited|written|compiled|produced)\s+and\s+published\s+by\b.{0,160}
      | published\s+by\b.{0,120}
      | back\s+to\s+top
      | top\s+stories
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
# Agency sign-offs and bylines: kept for readers, never entities or summary sentences.
_BYLINE = re.compile(
    r"""^(?:
        by\s+[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3}
            (?:\s*(?:,|and|&)\s*[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3}){0,3}
            (?:\s*[,|/-]\s*.{0,40})?
      | \(?(?:reporting|writing|editing|additional\s+reporting)\s+by\b.{0,200}\)?
      | \(?\s*(?:photo|picture|image|video|graphic)s?(?:\s+credit)?\s*:.{0,120}\)?
    )$""",
    re.VERBOSE,
)
_TERMINAL = frozenset(".!?:;,")
_QUOTES = "\"'“”‘’«»„"
_HEADING_SMALL_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "of",
        "on",
        "or",
        "over",
        "the",
        "to",
        "under",
        "vs",
        "via",
        "with",
        "no",
        "not",
        "nor",
        "per",
        "up",
        "out",
        "off",
    ]
)
# Dateline at the start of a story: "LONDON (Reuters) -", "KYIV, June 3 -", "(CNN)",
# "WASHINGTON, June 3 (AP) —", or a line of its own such as "LONDON 1996-08-30".
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATELINE = re.compile(
    rf"""^(?:
        (?:[A-Z][A-Z'’.\-]+(?:\s+[A-Z][A-Z'’.\-]+){{0,3}}
            (?:,\s*[A-Z][A-Za-z.]+(?:\s+[A-Z][A-Za-z.]+){{0,2}})?)
        (?:\s*,?\s*{_MONTH}\s+\d{{1,2}}(?:,?\s+\d{{4}})?)?
        (?:\s*\((?:[A-Za-z][\w .&-]{{0,30}})\))?
        \s*[-–—]+\s*
      | (?:[A-Z][A-Z'’.\-]+(?:\s+[A-Z][A-Z'’.\-]+){{0,3}}\s*,?\s*)?
        \((?:CNN|Reuters|AP|AFP|dpa|DPA|ANSA|EFE|PA|AAP|UPI|Xinhua|Bloomberg|CNBC)\)\s*[-–—]*\s*
      | [A-Z][A-Z'’.\-]+(?:\s+[A-Z][A-Z'’.\-]+){{0,3}}(?:,\s*[A-Za-z .]+)?\s+
        (?:\d{{4}}-\d{{2}}-\d{{2}}|{_MONTH}\s+\d{{1,2}}(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?)\s*$
    )""",
    re.VERBOSE,
)
_WORD = re.compile(r"\w+(?:[’'-]\w+)*")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph of the cleaned text: `text[start:end]`."""

    start: int
    end: int
    kind: BlockKind


@dataclass(frozen=True, slots=True)
class CleanText:
    """Cleaned text with its paragraphs and the spans that are not story prose."""

    text: str
    blocks: tuple[Block, ...]
    dateline_end: int = 0

    @property
    def skipped(self) -> list[tuple[int, int]]:
        """Character spans (dateline, headings, bylines) that never yield entities or keywords."""
        spans = [(0, self.dateline_end)] if self.dateline_end else []
        spans.extend((b.start, b.end) for b in self.blocks if b.kind != "paragraph")
        return spans

    def prose(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "paragraph"]


def clean_text(raw: str) -> CleanText:
    """Clean a plain-text body."""
    lines = [_clean_line(line) for line in _normalise(raw).split("\n")]
    paragraphs = _paragraphs(lines)
    paragraphs = [p for p in paragraphs if not _is_boilerplate(p)]
    kinds = _kinds(paragraphs)
    text_parts: list[str] = []
    blocks: list[Block] = []
    offset = 0
    for para, kind in zip(paragraphs, kinds, strict=True):
        blocks.append(Block(offset, offset + len(para), kind))
        text_parts.append(para)
        offset += len(para) + 2
    text = "\n\n".join(text_parts)
    dateline_end = 0
    if blocks and blocks[0].kind == "paragraph":
        match = _DATELINE.match(text, 0, blocks[0].end)
        if match:
            dateline_end = match.end()
    return CleanText(text, tuple(blocks), dateline_end)


def clean_line(raw: str) -> str:
    """Clean a one-line text such as a headline."""
    return _clean_line(_normalise(raw).replace("\n", " "))


def html_to_text(markup: str) -> str:
    """Plain text of an HTML body: block elements become paragraphs, tags and scripts go."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return parser.text()


def _normalise(raw: str) -> str:
    text = unicodedata.normalize("NFC", raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = _INVISIBLE.sub("", text)
    return _EMOJI.sub(" ", text)


def _clean_line(line: str) -> str:
    return _SPACES.sub(" ", line).strip()


def _paragraphs(lines: list[str]) -> list[str]:
    """Blank lines separate paragraphs; lines of one block join when they look hard-wrapped."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line:
            current.append(line)
            continue
        if current:
            paragraphs.extend(_unwrap(current))
            current = []
    return paragraphs


def _unwrap(lines: list[str]) -> list[str]:
    out = [lines[0]]
    for line in lines[1:]:
        prev = out[-1]
        wrapped = not _SENTENCE_END.search(prev) and (
            line[0].islower() or (len(prev) >= 50 and prev[-1] not in ":")
        )
        if wrapped:
            out[-1] = f"{prev} {line}"
        else:
            out.append(line)
    return out


def _is_boilerplate(paragraph: str) -> bool:
    if len(paragraph) > 200:
        return False
    stripped = paragraph.strip(_QUOTES + " ")
    return bool(_BOILERPLATE.match(stripped)) if stripped else True


def _kinds(paragraphs: list[str]) -> list[BlockKind]:
    kinds: list[BlockKind] = []
    for index, para in enumerate(paragraphs):
        if _BYLINE.match(para.strip(_QUOTES + " ")) and len(para) < 160:
            kinds.append("byline")
        elif 0 < index < len(paragraphs) - 1 and _looks_like_heading(para, paragraphs[index + 1]):
            kinds.append("heading")
        else:
            kinds.append("paragraph")
    return kinds


def _looks_like_heading(line: str, following: str) -> bool:
    """A short title-case line without final punctuation, introducing a longer paragraph."""
    if len(line) > 80 or len(following) < 2 * len(line):
        return False
    bare = line.rstrip(_QUOTES + " ")
    if not bare or (bare[-1] in _TERMINAL and bare[-1] not in "?!"):
        return False
    words = _WORD.findall(line)
    if not 1 <= len(words) <= 10 or sum(w.isdigit() for w in words) > 1:
        return False
    if len(words) == 1 and not _SENTENCE_END.search(following):
        return False
    content = [w for w in words if w.lower() not in _HEADING_SMALL_WORDS or w is words[0]]
    capitalised = sum(w[0].isupper() or w[0].isdigit() for w in content)
    return capitalised >= max(1, round(0.75 * len(content)))


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset(
        [
            "p",
            "div",
            "br",
            "li",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "blockquote",
            "pre",
            "tr",
            "table",
            "section",
            "article",
            "header",
            "footer",
            "ul",
            "ol",
            "dt",
            "dd",
            "figcaption",
            "hr",
        ]
    )
    _SKIP = frozenset({"script", "style", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK:
            self._parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self._parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._parts.append(data.replace("\n", " "))

    def text(self) -> str:
        return html.unescape("".join(self._parts))
