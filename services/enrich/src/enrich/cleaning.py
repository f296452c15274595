"""Clean article text: drop boilerplate and decorative emoji, mark structure the NLP must skip.

The cleaned text is what readers get and what every later step works on: paragraphs separated by
one blank line, single spaces inside a paragraph. Section headings, bylines and the dateline stay
in the text (readers see them) but are marked, so that they never become entities, keywords or
summary sentences.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from itertools import pairwise
from typing import Literal

BlockKind = Literal["paragraph", "heading", "byline"]

# Emoji, from the Unicode emoji data (emoji-data.txt, Unicode 17.0). Characters that are emoji by
# default (Emoji_Presentation) go wherever they stand: those of the BMP, and outside it the
# emoji code points (regional indicators included), rounded to whole blocks where a block holds
# nothing but pictographs.
_PICTOGRAPH = (
    "["
    "\u231a-\u231b\u23e9-\u23ec\u23f0\u23f3\u25fd-\u25fe\u2614-\u2615\u2648-\u2653\u267f\u2693"
    "\u26a1\u26aa-\u26ab\u26bd-\u26be\u26c4-\u26c5\u26ce\u26d4\u26ea\u26f2-\u26f3\u26f5\u26fa"
    "\u26fd\u2705\u270a-\u270b\u2728\u274c\u274e\u2753-\u2755\u2757\u2795-\u2797\u27b0\u27bf"
    "\u2b1b-\u2b1c\u2b50\u2b55"
    "\U0001f004\U0001f0cf\U0001f170-\U0001f171\U0001f17e-\U0001f17f\U0001f18e"
    "\U0001f191-\U0001f19a\U0001f1e6-\U0001f1ff\U0001f201-\U0001f202\U0001f21a\U0001f22f"
    "\U0001f232-\U0001f23a\U0001f250-\U0001f251\U0001f300-\U0001f64f\U0001f680-\U0001f6ff"
    "\U0001f7e0-\U0001f7eb\U0001f7f0\U0001f90c-\U0001f9ff\U0001fa70-\U0001faff"
    "]"
)
# Any emoji of the BMP (Emoji=Yes) followed by variation selector 16, which asks for the picture:
# without it most of them are text symbols, "‼" or "▶". © ® ™ and the card suits ♠ ♣ ♥ ♦ are left
# out: they are real symbols of news text, so "♥️" only loses its selector. Musical signs
# (♭ ♮ ♯) are not emoji at all.
_TEXT_STYLE = (
    "["
    "\u203c\u2049\u2139\u2194-\u2199\u21a9-\u21aa\u231a-\u231b\u2328\u23cf\u23e9-\u23f3"
    "\u23f8-\u23fa\u24c2\u25aa-\u25ab\u25b6\u25c0\u25fb-\u25fe\u2600-\u2604\u260e\u2611"
    "\u2614-\u2615\u2618\u261d\u2620\u2622-\u2623\u2626\u262a\u262e-\u262f\u2638-\u263a\u2640"
    "\u2642\u2648-\u2653\u265f\u2668\u267b\u267e-\u267f\u2692-\u2697\u2699\u269b-\u269c"
    "\u26a0-\u26a1\u26a7\u26aa-\u26ab\u26b0-\u26b1\u26bd-\u26be\u26c4-\u26c5\u26c8\u26ce-\u26cf"
    "\u26d1\u26d3-\u26d4\u26e9-\u26ea\u26f0-\u26f5\u26f7-\u26fa\u26fd\u2702\u2705\u2708-\u270d"
    "\u270f\u2712\u2714\u2716\u271d\u2721\u2728\u2733-\u2734\u2744\u2747\u274c\u274e"
    "\u2753-\u2755\u2757\u2763-\u2764\u2795-\u2797\u27a1\u27b0\u27bf\u2934-\u2935\u2b05-\u2b07"
    "\u2b1b-\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299"
    "]"
)
# One emoji: a keycap ("1️⃣"), a pictograph, or a text symbol asking for emoji presentation, with
# its skin tone and tag characters (the subdivision flags); a zero-width joiner chains emoji
# into one ("👩‍🚒").
_EMOJI_HEAD = (
    rf"(?:[0-9#*]\ufe0f?\u20e3|{_PICTOGRAPH}[\ufe0e\ufe0f]?|{_TEXT_STYLE}\ufe0f)"
    r"[\U0001f3fb-\U0001f3ff]?[\U000e0020-\U000e007f]*"
)
_EMOJI_LINK = rf"\u200d(?:{_PICTOGRAPH}|{_TEXT_STYLE})[\ufe0e\ufe0f]?[\U0001f3fb-\U0001f3ff]?"
_EMOJI = re.compile(rf"{_EMOJI_HEAD}(?:{_EMOJI_LINK})*\u200d?")
# Every emoji above holds a character from U+203C up (a keycap its U+20E3): text without one,
# most text (curly quotes and dashes come before it), is not run through `_EMOJI`, whose
# alternatives tried at every character cost more than the rest of cleaning.
_MAYBE_EMOJI = re.compile("[\u203c-\U0010ffff]")
# Characters that are not text: invisible format characters, what is left of emoji sequences
# (variation selectors, keycap and tag marks), C0 controls other than tab and line breaks (\v and
# \f count as spaces), DEL and the C1 controls (mis-decoded bytes; NEL was made a line break
# before), and the bidi embeddings, overrides and isolates that can reorder what readers see.
_INVISIBLE = re.compile(
    "[\u200b\u2060\ufeff\u00ad\ufe0e\ufe0f\u20e3\U000e0020-\U000e007f"
    "\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)  # not U+200C, the zero-width non-joiner: Persian and other scripts spell words with it
_SPACES = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")

# Names as bylines and site furniture write them: capitalised words ("Jane Doe", "BBC News",
# "Reuters/Toby Melville") with the small words that join them.
_UPPER = "".join(ch for ch in map(chr, range(0x530)) if ch.isupper())  # Latin, Greek, Cyrillic
_CAPITALISED = rf"(?-i:[{_UPPER}0-9])[\w.'’&/-]*"
_JOINER = r"(?-i:of|and|the|for|at|in|on|by|de|da|di|du|la|le|van|von|der|al|bin)"
_PROPER = rf"{_CAPITALISED}(?:\s+(?:{_JOINER}\s+)*{_CAPITALISED})*"
_PLATFORM = (
    r"(?:facebook|twitter|x|instagram|linkedin|youtube|tiktok|threads|bluesky|mastodon|telegram"
    r"|whatsapp|pinterest|snapchat|reddit|flipboard|google\s+news|apple\s+news|social\s+media"
    r"|e-?mail)"
)
_PLATFORMS = rf"{_PLATFORM}(?:\s*(?:,|/|\||·|•|&|\band\b|\bor\b|,\s*and\b)\s*{_PLATFORM})*"
_SHARE_BUTTON = (
    r"(?:tweet|share|e-?mail|print|whatsapp|facebook|twitter|linkedin|pinterest|reddit|telegram"
    r"|copy\s+link)"
)
# "Copyright 2024 Reuters. All rights reserved.", "© 2025 The Associated Press", "(c) 2024 BBC":
# the owner is a run of capitalised words, so "Copyright law has not kept pace ..." is prose.
_COPYRIGHT = rf"""
    (?:©|\(c\)(?=\s*(?:\d|copyright))|copyright\s*(?:©|\(c\)|:|(?=\d))
      | copyright\s+(?={_PROPER}\s*,?\s*(?:19|20)\d\d\b))
    \s*(?:copyright\s*)?
    (?:{_PROPER}(?:\s*,\s*{_PROPER})*)?
    (?:\s*\.?\s*all\s+rights\s+reserved)?
    (?:\s*\.?\s*this\s+material\s+may\s+not\s+be\s+published[^.]{{0,100}})?
"""
# A whole line that is site furniture, wherever it stands. Each rule is a fixed phrase or a phrase
# and a tail that is not prose (a list of platforms, a name, a headline after a colon), so a
# story sentence that merely starts with "Copyright", "Follow us" or "See more" stays.
_BOILERPLATE = re.compile(
    rf"""^(?:
        comments?(?:\s*\(\d+\))?
      | \d+\s+comments?
      | (?:leave|add|post|view|show|hide|read|see)\s+(?:a\s+|all\s+|the\s+|\d+\s+)?comments?
            (?:\s*\(\d+\)|\s+(?:below|here))?
      | share(?:\s+this(?:\s+(?:article|story|post|page|video|link))?)?
            (?:\s+(?:on|via)\s+{_PLATFORMS})?
      | (?:read|see)\s+(?:more|also|next)(?:\s*[:|»›>–—-].{{0,160}}|\s*(?:\.\.\.|…))?
      | read\s+more\s+(?:about|on|at)\s+[^.!?,;]{{1,80}}
      | related(?:\s+(?:articles?|stories|content|coverage|topics|news|links))?\s*:?
      | more\s+on\s+this\s+story
      | (?:like|follow|find)\s+us(?:\s+on\s+{_PLATFORMS}|\s*:\s*{_PLATFORMS})?(?:\s*:?\s*@\w+)?
            (?:\s+for\s+(?:the\s+|all\s+the\s+)?(?:latest|more|breaking|live)\b[^.!?,;]{{0,60}})?
      | (?:sign\s+up|subscribe)(?:\s+(?:now|here|today|for\s+free))?
      | (?:sign\s+up|subscribe)(?:\s+(?:now|here|today))?\s+(?:to|for)\s+
            (?:our\b[^.!?,;]{{0,80}}
              | {_PROPER}
              | [^.!?,;]{{0,60}}\b(?:newsletters?|briefings?|bulletins?|alerts|digest|e-?mails?
                  |updates|podcast|channel)\b[^.!?,;]{{0,60}})
      | click\s+here(?:\s+(?:to|for)\s+[^.!?,;]{{0,100}})?
      | advertisement | sponsored(?:\s+content)? | ad
      | {_SHARE_BUTTON}(?:\s*[|/·•,]\s*{_SHARE_BUTTON})*
      | {_COPYRIGHT}
      | all\s+rights\s+reserved
      | (?:edited|written|compiled|produced)\s+and\s+published\s+by\s+[^,;:.!?]{{1,120}}
      | published\s+by\s+{_PROPER}(?:\s*[|·•–—]\s*[^.!?]{{1,40}})?
      | back\s+to\s+top
      | top\s+stories
    )[.!]?$""",
    re.IGNORECASE | re.VERBOSE,
)
# Agency sign-offs, bylines and picture credits: kept for readers, never entities or summary
# sentences. Names are capitalised ("By Friday, the rebels ..." is prose); the keywords are in
# any case ("BY JOHN SMITH").
_NOT_A_NAME = (
    r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april"
    r"|may|june|july|august|september|october|november|december|then|now|noon|midnight)\b"
)
# A person or a place: "Jane Doe", "Isle of Man". "and", "in", "from" and "at" only ever separate
# names, so that a line has one reading and a line that is no byline fails fast.
_NAME_WORD = rf"(?!(?i:and|in|from|at)\b){_CAPITALISED}"
_PARTICLE = r"(?:of|the|de|da|di|du|la|le|van|von|der|al|bin)"
_NAME = rf"{_NAME_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_NAME_WORD}){{0,3}}"
_AND = r"(?:\s*,\s*(?i:and)\s+|\s*,\s*|\s+(?:&|(?i:and))\s+)"
_FROM = rf"(?:\s+(?i:in|from|at)\s+{_NAME})?"
_PEOPLE = rf"{_NAME}{_FROM}(?:{_AND}{_NAME}{_FROM})*"
_AFFILIATION = rf"(?:(?:\s*[,|]\s*|\s+[/–—-]\s+){_PROPER}){{0,3}}"
_CREDIT_ROLE = (
    r"(?:additional\s+)?(?:reporting|writing|editing|research|graphics|photography|production"
    r"|translation|fact[\s-]checking|compiled|compiling|written|edited|produced|translated"
    r"|photos?|pictures?|images?|video|illustrations?)"
)
_CREDIT = rf"(?i:{_CREDIT_ROLE}\s+by)\s+{_PEOPLE}"
_BYLINE = re.compile(
    rf"""^(?:
        (?i:by)\s+(?!(?i:{_NOT_A_NAME})){_PEOPLE}{_AFFILIATION}
      | \(?\s*{_CREDIT}(?:\s*[;,.]\s*(?:(?i:and)\s+)?{_CREDIT})*\s*\.?\s*\)?
      | \(?\s*(?i:(?:photo(?:graph)?|picture|image|video|graphic|illustration)s?(?:\s+credit)?)
            \s*:.{{0,120}}
      | \(?[^()]{{0,160}}?\b(?i:contributed\s+(?:to\s+this\s+(?:report|story|article)|reporting))
            \.?\)?
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
# "WASHINGTON, June 3 (AP) —", or a line of its own such as "LONDON 1996-08-30". Before a known
# agency the place may be in mixed case ("New Delhi, India (CNN)"); another publisher in
# parentheses counts when a dash or the first word follows it without a space
# ("(The Hollywood Reporter)Stan Freberg ...", "(Mental Floss) -- ...").
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_PLACE_WORDS = r"[A-Z][\w'’.\-]+(?:\s+[A-Z][\w'’.\-]+){0,3}"
_PUBLISHER = r"\([A-Z][\w.&'’\-]*(?:\s+[A-Z][\w.&'’\-]*){0,3}\)"
_DATELINE = re.compile(
    rf"""^(?:
        (?:[A-Z][A-Z'’.\-]+(?:\s+[A-Z][A-Z'’.\-]+){{0,3}}
            (?:,\s*[A-Z][A-Za-z.]+(?:\s+[A-Z][A-Za-z.]+){{0,2}})?)
        (?:\s*,?\s*{_MONTH}\s+\d{{1,2}}(?:,?\s+\d{{4}})?)?
        (?:\s*\((?:[A-Za-z][\w .&-]{{0,30}})\))?
        \s*[-–—]+\s*
      | (?:{_PLACE_WORDS}(?:\s*,\s*{_PLACE_WORDS})?\s*,?\s*)?
        \((?:CNN|Reuters|AP|AFP|dpa|DPA|ANSA|EFE|PA|AAP|UPI|Xinhua|Bloomberg|CNBC)\)\s*[-–—]*\s*
      | {_PUBLISHER}(?:\s*[-–—]+\s*|(?=[A-Z"“‘']))
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
    # The dateline opens the story, after any byline: "By Jane Doe" then "LONDON (Reuters) -".
    first = next((b for b in blocks if b.kind != "byline"), None)
    if first is not None and first.kind == "paragraph":
        match = _DATELINE.match(text[first.start : first.end])  # "^" holds at 0 only
        if match:
            dateline_end = first.start + match.end()
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
    for line_break in ("\r\n", "\r", "\u2028", "\x85"):
        text = text.replace(line_break, "\n")
    if _MAYBE_EMOJI.search(text):
        text = _EMOJI.sub(" ", text)
    return _INVISIBLE.sub("", text)


def _clean_line(line: str) -> str:
    if "\u2029" in line:
        return _SPACES.sub(" ", line).strip()
    # The same, several times faster: without U+2029 (a space to `split` but not to `_SPACES`),
    # the whitespace `split` knows and `_SPACES` does not (line breaks, C0 and C1 separators) is
    # gone from a normalised line, and `strip` leaves no other.
    return " ".join(line.split())


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
    """Join each line to the one before unless that ends a sentence; a byline stands alone.

    Only the line before is looked at and each paragraph is joined once, so a long block without
    sentence punctuation costs linear time.
    """
    out: list[str] = []
    current = [lines[0]]
    length = len(lines[0])  # of the paragraph being built
    for prev, line in pairwise(lines):
        wrapped = (
            not _SENTENCE_END.search(prev)
            and not _is_byline(prev)
            and (line[0].islower() or (length >= 50 and prev[-1] != ":" and not _is_byline(line)))
        )
        if not wrapped:
            out.append(" ".join(current))
            current, length = [], -1
        current.append(line)
        length += 1 + len(line)
    out.append(" ".join(current))
    return out


def _is_boilerplate(paragraph: str) -> bool:
    if len(paragraph) > 200:
        return False
    stripped = paragraph.strip(_QUOTES + " ")
    return bool(_BOILERPLATE.match(stripped)) if stripped else True


def _kinds(paragraphs: list[str]) -> list[BlockKind]:
    kinds: list[BlockKind] = []
    for index, para in enumerate(paragraphs):
        if _is_byline(para):
            kinds.append("byline")
        elif 0 < index < len(paragraphs) - 1 and _looks_like_heading(
            para, paragraphs[index - 1], paragraphs[index + 1]
        ):
            kinds.append("heading")
        else:
            kinds.append("paragraph")
    return kinds


def _is_byline(paragraph: str) -> bool:
    return len(paragraph) < 250 and bool(_BYLINE.match(paragraph.strip(_QUOTES + " ")))


def is_title_case(line: str) -> bool:
    """Whether a line is written in title case, every word capitalised but the small ones
    ("Ukraine Ready to Push for Ceasefire"), so that its capitals say nothing of names. A line
    in capitals or with a lowercase word ("U.N. envoy arrives in Chile") is not."""
    capitalised, content = _capitalised(line)
    return content > 0 and capitalised == content


def _capitalised(line: str) -> tuple[int, int]:
    """Capitalised words and all words of a line with lower case, the small words aside."""
    words = _WORD.findall(line)
    if not words or not any(ch.islower() for ch in line):
        return 0, 0
    content = [w for w in words if w.lower() not in _HEADING_SMALL_WORDS or w is words[0]]
    return sum(w[0].isupper() or w[0].isdigit() for w in content), len(content)


def _looks_like_heading(line: str, previous: str, following: str) -> bool:
    """A short title-case line without sentence punctuation, between two paragraphs of prose.

    A line in capitals ("LONDON 1996-08-30", "W L PCT GB"), a line with figures (a score, a
    table row, a date) or a line after or before something that is not prose (a table, a
    list) is no section heading."""
    if len(line) > 80 or len(following) < 2 * len(line):
        return False
    bare = line.rstrip(_QUOTES + " ")
    if not bare or (bare[-1] in _TERMINAL and bare[-1] not in "?!"):
        return False
    if any(ch.isdigit() for ch in line) or not (
        _SENTENCE_END.search(previous) and _SENTENCE_END.search(following)
    ):
        return False
    # Mostly capitalised: "Small Wins, No Big Moves", "Lobbying campaign in Israel".
    capitalised, content = _capitalised(line)
    return len(_WORD.findall(line)) <= 10 and capitalised >= max(1, round(0.75 * content))


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
        # convert_charrefs has decoded every reference once: "&amp;lt;" is the text "&lt;".
        return "".join(self._parts)
