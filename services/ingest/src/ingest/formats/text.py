"""Plain text and Markdown: the first non-empty line is the headline, the rest the body."""

from __future__ import annotations

import re

from ingest import markup
from ingest.draft import Draft, raw_hash

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
    atx = _atx_heading(line)
    text = atx if atx is not None else line.strip()
    emphasis = _EMPHASIS.match(text)
    return emphasis.group(2) if emphasis else text


def _atx_heading(line: str) -> str | None:
    """The text of a Markdown "# Heading #" line, else None. Written out rather than as one
    regex, whose backtracking on a long run of spaces took seconds per kilobyte."""
    stripped = line.lstrip()
    hashes = len(stripped) - len(stripped.lstrip("#"))
    if len(line) - len(stripped) > 3 or not 1 <= hashes <= 6:
        return None
    return stripped[hashes:].strip().rstrip("#").rstrip()

