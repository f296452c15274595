"""Wire values (status codes, urgencies, versions, language tags) coerced to canonical ones."""

from __future__ import annotations

import re

from shared.article import MAX_VERSION, PubStatus

from ingest.errors import InvalidArticle

_STATUS = {
    "usable": PubStatus.usable,
    "published": PubStatus.usable,
    "embargoed": PubStatus.usable,  # held by its embargo time, not by the status
    "withheld": PubStatus.withheld,
    "canceled": PubStatus.canceled,
    "cancelled": PubStatus.canceled,
    "killed": PubStatus.canceled,
    "deleted": PubStatus.canceled,
}
# C0 and C1 controls, and the invisible marks and overrides that reorder text (bidi): none
# belongs in an identifier, where they forge log lines or make two ids look alike.
_UNSAFE_CHARS = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
UNSAFE_IN_ID = re.compile(f"[{_UNSAFE_CHARS}]")
PRINTABLE_ID = f"^[^{_UNSAFE_CHARS}]+$"  # the same, as a pydantic ``pattern``
_INTEGER = re.compile(r"[+-]?\d{1,12}(?:\.0*)?")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


def qcode_code(qcode: str) -> str:
    """`stat:usable` -> `usable`; a value without a scheme is returned as is."""
    return qcode.rsplit(":", 1)[-1] if ":" in qcode else qcode


def pub_status(value: object) -> PubStatus:
    """The publication status; absent means usable. An unknown status is refused rather than
    guessed, because a guess could publish a story its agency meant to kill."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return PubStatus.usable
    key = qcode_code(str(value).strip()).lower()
    if key not in _STATUS:
        raise InvalidArticle(f"unknown publication status {str(value)[:40]!r}", field="pubStatus")
    return _STATUS[key]


def says_embargoed(status: object) -> bool:
    """Whether a wire status is "embargoed" (which alone does not say until when)."""
    return isinstance(status, str) and qcode_code(status.strip()).lower() == "embargoed"


def integer(value: object) -> int | None:
    """An integer from a number or a numeric string; anything else is None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e12 else None
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(float(value.strip()))
    return None


def urgency(value: object) -> int | None:
    """Urgency 1 (highest) .. 9; out-of-range numbers are clamped, garbage ignored."""
    number = integer(value)
    if number is None:
        return None
    return min(9, max(1, number))


def version(value: object) -> int | None:
    number = integer(value)
    return number if number is not None and 0 <= number <= MAX_VERSION else None


def language(value: object) -> str | None:
    """A BCP 47-looking tag with conventional casing ("EN" -> "en", "en_us" -> "en-US")."""
    if not isinstance(value, str):
        return None
    tag = value.strip()
    if not _LANGUAGE.fullmatch(tag) or tag.lower().startswith(("x-", "und")):
        return None
    parts = tag.replace("_", "-").split("-")
    head = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2:
            head.append(part.upper())  # region
        elif len(part) == 4 and part.isalpha():
            head.append(part.title())  # script
        else:
            head.append(part.lower())
    return "-".join(head)


def text(value: object) -> str | None:
    """A non-empty string with its whitespace collapsed, else None."""
    if value is None or isinstance(value, dict | list | bool):
        return None
    collapsed = " ".join(str(value).split())
    return collapsed or None
