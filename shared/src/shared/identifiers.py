"""What may appear in an identifier or a filter value: no control or bidi characters.

C0 and C1 controls, and the invisible marks and overrides that reorder text (bidi), belong in no
uri, source name, id or filter value: there they forge log lines or make two ids look alike.
Ingest refuses them in what it reads; publish and deliver refuse them in query and filter values.
"""

from __future__ import annotations

import re

UNSAFE_CHARS = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
UNSAFE_IN_ID = re.compile(f"[{UNSAFE_CHARS}]")
PRINTABLE_ID = f"^[^{UNSAFE_CHARS}]+$"  # the same, as a pydantic ``pattern``


def unsafe_value(value: str | None) -> bool:
    """Whether a value holds a control or bidi character."""
    return value is not None and UNSAFE_IN_ID.search(value) is not None
