"""Plain text and Markdown: the first non-empty line is the headline, the rest the body."""

from __future__ import annotations

import re

from ingest import markup
from ingest.draft import Draft, raw_hash

_ATX = re.compile(r"^\s{0,3}#{1,6}\s*(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_EMPHASIS = re.compile(r"^(\*\*|__)(.+)\1$")


def drafts(text: str, document: bytes) -> list[Draft]:
    lines = markup.normalize_text(text).split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    headline = _headline(lines[start]) if start < len(lines) else ""
    rest = lines[start + 1 :]
    if rest and _SETEXT.match(rest[0]):
        rest = rest[1:]
    body = markup.normalize_text("\n".join(rest)).strip("\n")
    return [
        Draft(
            label="#1",
            raw_hash=raw_hash(document),
            headlines=[("main", headline)] if headline else [],
            body_text=body or None,
        )
    ]


def _headline(line: str) -> str:
    atx = _ATX.match(line)
    text = atx.group(1) if atx else line.strip()
    emphasis = _EMPHASIS.match(text)
    return emphasis.group(2) if emphasis else text
