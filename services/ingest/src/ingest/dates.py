"""Any wire date (ISO 8601, NITF basic, RFC 822, named zones, naive) to aware UTC, or None."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from dateutil import parser as dateutil_parser
from dateutil.parser import UnknownTimezoneWarning

_ISO = re.compile(
    r"(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[T ]?(\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?|UTC|GMT|UT)?",
    re.IGNORECASE,
)
_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*(?=[+-]\d)", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"[YMDHhmsSTZ0-9:+\-./ ]*(?:YYYY|MM|DD|HH)[YMDHhmsSTZ0-9:+\-./ ]*")
# "Tue, 02 Jan 2024 10:00:00 +0100": day, month name, year, time, then the zone (group 1).
_RFC822 = re.compile(
    r"(?:[A-Za-z]{3},?\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:?\d{2}(?::\d{2})?"
    r"\s*(?:[+-]\d{4}|([A-Za-z]{1,5}))?$"
)
_RFC822_ZONES = frozenset({"UT", "UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT",
                           "PST", "PDT"})  # the names RFC 2822 defines
_NO_VALUE = frozenset({"", "none", "null", "nil", "n/a", "na", "-", "0", "false", "no", "never"})
_MIN_YEAR, _MAX_YEAR = 1900, 2200


def _zone(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


# Zones agencies actually write; dateutil would otherwise return a naive time for them.
_ZONES: dict[str, timezone] = {
    "UT": UTC, "UTC": UTC, "GMT": UTC, "Z": UTC, "WET": UTC,
    "BST": _zone(1), "CET": _zone(1), "MEZ": _zone(1), "WEST": _zone(1),
    "CEST": _zone(2), "MESZ": _zone(2), "EET": _zone(2), "EEST": _zone(3), "MSK": _zone(3),
    "IST": _zone(5.5), "SGT": _zone(8), "HKT": _zone(8), "JST": _zone(9), "KST": _zone(9),
    "AEST": _zone(10), "AEDT": _zone(11), "NZST": _zone(12), "NZDT": _zone(13),
    "EST": _zone(-5), "EDT": _zone(-4), "CST": _zone(-6), "CDT": _zone(-5),
    "MST": _zone(-7), "MDT": _zone(-6), "PST": _zone(-8), "PDT": _zone(-7),
    "AKST": _zone(-9), "AKDT": _zone(-8), "HST": _zone(-10),
}  # fmt: skip
# Two far-apart defaults: a field dateutil filled from the default differs between them.
_DEFAULT_A = datetime(2001, 1, 1, 0, 0, 0)
_DEFAULT_B = datetime(2002, 2, 2, 0, 0, 0)


def to_utc(value: object) -> datetime | None:
    """A timezone-aware UTC datetime, or None for anything that is not a real date."""
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text or len(text) > 64:
        return None
    parsed = _iso(text) or _rfc822(text) or _loose(text)
    if parsed is None or not _MIN_YEAR <= parsed.year <= _MAX_YEAR:
        return None
    return _aware(parsed)


def is_no_date(value: object) -> bool:
    """An empty value or an unfilled template ("YYYYMMDD000000-HHMM"): no date was meant."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    if len(text) > 64:  # no template is that long; and the pattern below must stay cheap
        return False
    digits = {char for char in text if char.isdigit()}
    zero_date = digits == {"0"} and not any(c.isalpha() and c not in "TZ" for c in text)
    return text.lower() in _NO_VALUE or zero_date or bool(_PLACEHOLDER.fullmatch(text))


def _aware(value: datetime) -> datetime | None:
    try:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _from_epoch(seconds: float) -> datetime | None:
    if seconds > 1e11:  # milliseconds
        seconds /= 1000
    if not 1e8 < seconds < 7.3e9:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def _iso(text: str) -> datetime | None:
    match = _ISO.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        result = datetime(
            int(year), int(month), int(day),
            int(hour or 0), int(minute or 0), int(second or 0), micro,
        )  # fmt: skip
    except ValueError:
        return None
    if zone is None or zone.upper() in ("Z", "UTC", "GMT", "UT"):
        return result.replace(tzinfo=UTC)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    offset_hours, offset_minutes = int(digits[:2]), int(digits[2:4] or 0)
    if offset_hours > 23 or offset_minutes > 59:
        return None
    offset = timedelta(hours=offset_hours, minutes=offset_minutes) * sign
    return result.replace(tzinfo=timezone(offset))


def _rfc822(text: str) -> datetime | None:
    """RFC 822/2822 dates as feeds write them; anything else is left to `_loose`, including a
    zone name the email parser does not know (it would silently make that UTC)."""
    shape = _RFC822.match(text)
    if shape is None:
        return None
    zone = shape.group(1)
    if zone and zone.upper() not in _RFC822_ZONES:
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _loose(text: str) -> datetime | None:
    # "GMT+03:00" is POSIX-inverted for dateutil; agencies mean the ISO sign.
    text = _GMT_OFFSET.sub("", text)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = dateutil_parser.parse(text, default=_DEFAULT_A, tzinfos=_ZONES)
            second = dateutil_parser.parse(text, default=_DEFAULT_B, tzinfos=_ZONES)
    except (ValueError, OverflowError, TypeError, LookupError):
        return None
    if any(issubclass(w.category, UnknownTimezoneWarning) for w in caught):
        return None  # "10:00 ET": taking it as UTC could lift an embargo hours early
    # A text without a full date (a weekday, a bare time, "1500") is not a date.
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        return None
    return first
