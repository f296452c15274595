"""Bounds on what one request may hold, so that whatever ingest accepts can be parsed in
linear time, stored (a MongoDB document holds 16 MiB) and served without surprises."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Refused past these (413/422): markup that would cost super-linear work, articles that
    could not be stored. Cut past these (with a warning naming the field): values no reader
    needs whole."""

    # Markup: tags in one request, attributes on one element, block elements open at once.
    markup_tags: int = 100_000
    attributes_per_element: int = 100
    nesting_depth: int = 256
    # The article as it will be stored (its JSON), leaving room under MongoDB's 16 MiB for
    # what enrichment adds (entities, summary, keywords).
    stored_bytes: int = 12 * 1024 * 1024
    headline_chars: int = 1_000
    byline_chars: int = 500
    slugline_chars: int = 200
    ed_note_chars: int = 10_000
    # One value of a subject or entity (a name, a code), or of an HTML attribute.
    value_chars: int = 1_000
    # Subjects, people, organisations, places: each list.
    concepts: int = 500


DEFAULT_LIMITS = Limits()
