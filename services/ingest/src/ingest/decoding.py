"""Bytes to text for every format: BOMs, wrong or missing declared encodings, legacy charsets."""

from __future__ import annotations

import codecs
import re

import structlog
from charset_normalizer import from_bytes

from ingest.errors import UnsupportedFormat

log = structlog.get_logger()

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:\-]+)["']""")
_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:\-]+)""", re.IGNORECASE)
# Real feeds declare the narrow charset but send bytes of its superset (WHATWG does the same).
_SUPERSETS = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def declared_encoding(raw: bytes, content_type: str | None) -> str | None:
    """The encoding named by the XML declaration, else by the Content-Type charset."""
    match = _XML_DECL_ENCODING.match(raw[:512])
    if match:
        return match.group(1).decode("ascii")
    if content_type:
        param = _CHARSET_PARAM.search(content_type)
        if param:
            return param.group(1)
    return None


def decode(raw: bytes, content_type: str | None = None) -> str:
    """Decode a document: BOM, then UTF-8 if the bytes are valid UTF-8, then the declared
    encoding, then charset detection. Refuses binary data."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            return _checked(raw[len(bom) :].decode(encoding, errors="replace"))
    sixteen = _utf16_without_bom(raw)
    if sixteen:
        return _checked(raw.decode(sixteen, errors="replace"))
    try:
        return _checked(raw.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    declared = declared_encoding(raw, content_type)
    if declared:
        text = _decode_declared(raw, declared)
        if text is not None:
            return _checked(text)
    if b"\x00" in raw:
        raise UnsupportedFormat("binary data, not a news document")
    best = from_bytes(raw[:200_000]).best()
    if best is None or best.encoding is None:
        raise UnsupportedFormat("the bytes are in no recognisable text encoding")
    log.debug("decoding.detected", encoding=best.encoding, declared=declared)
    return _checked(raw.decode(best.encoding, errors="replace"))


def _decode_declared(raw: bytes, declared: str) -> str | None:
    try:
        name = codecs.lookup(declared).name
    except LookupError:
        return None
    for candidate in (_SUPERSETS.get(name, name), name):
        try:
            return raw.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
    return None


def _utf16_without_bom(raw: bytes) -> str | None:
    head = raw[:4]
    if len(head) == 4 and head[0] == 0 and head[2] == 0 and head[1] and head[3]:
        return "utf-16-be"
    if len(head) == 4 and head[1] == 0 and head[3] == 0 and head[0] and head[2]:
        return "utf-16-le"
    return None


def _checked(text: str) -> str:
    """Refuse text that is mostly control characters: an image or archive, not a story."""
    sample = text[:4096]
    if sample and len(_CONTROL.findall(sample)) > max(2, len(sample) // 50):
        raise UnsupportedFormat("binary data, not a news document")
    return text
