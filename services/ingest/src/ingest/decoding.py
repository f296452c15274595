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
# Where the declared language is, in the markup of every format Newsflow reads.
_LANGUAGE_HINT = re.compile(
    rb"(?:<(?:[\w.\-]+:)?language>\s*|\bxml:lang\s*=\s*[\"']|\bbaselang\s*=\s*[\"']"
    rb"|<(?:[\w.\-]+:)?language\s+tag\s*=\s*[\"']|<Language\s+FormalName\s*=\s*[\"']"
    rb"|\"language\"\s*:\s*\")([A-Za-z]{2,3})(?![A-Za-z])",
    re.IGNORECASE,
)
_WESTERN = ("cp1252", "latin-1")
_CENTRAL = ("cp1250", "iso8859-2")
# A language's legacy code pages, most used first (the Windows one: feeds are made on it).
_CODE_PAGES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("en", "pt", "es", "fr", "de", "it", "nl", "ca", "da", "sv", "no", "nb",
                     "nn", "fi", "is", "ga", "gl", "eu", "af", "id", "ms", "sw", "oc", "lb",
                     "fo", "rm", "br", "cy", "gd", "la", "wa"), _WESTERN),
    **dict.fromkeys(("pl", "cs", "sk", "hu", "sl", "hr", "bs", "ro", "sq"), _CENTRAL),
    **dict.fromkeys(("ru", "uk", "be", "bg", "mk", "sr"), ("cp1251", "koi8-r", "iso8859-5")),
    "el": ("cp1253", "iso8859-7"),
    **dict.fromkeys(("tr", "az"), ("cp1254", "iso8859-9")),
    **dict.fromkeys(("he", "yi"), ("cp1255", "iso8859-8")),
    **dict.fromkeys(("ar", "fa", "ur"), ("cp1256",)),
    **dict.fromkeys(("lt", "lv", "et"), ("cp1257", "iso8859-13")),
    "vi": ("cp1258",),
    "th": ("cp874",),
    "ja": ("cp932", "euc_jp"),
    "zh": ("gb18030", "big5hkscs"),
    "ko": ("cp949",),
}  # fmt: skip
# Inside a word, a symbol no Latin-script language puts there (apostrophes aside), or
# anywhere, a control character or the replacement of an undefined byte.
_ODD_IN_LATIN = re.compile(
    r"(?<=[^\W\d_])[^\w\s\x00-\x7f\u2019\u2018\u2013\u00b7](?=[^\W\d_])|[\x80-\x9f\ufffd]")
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
    return _checked(_undeclared(raw, declared))


def language_hint(raw: bytes) -> str | None:
    """The primary language the document declares (`<language>`, `xml:lang`, NITF
    `baselang`, G2 `<language tag>`, NewsML 1.2 `<Language FormalName>`, a JSON
    `"language"`), read from the bytes before they are decoded."""
    match = _LANGUAGE_HINT.search(raw[:65_536])
    return match.group(1).decode("ascii").lower() if match else None


def _undeclared(raw: bytes, declared: str | None) -> str:
    """Bytes that are not UTF-8 and name no usable encoding. News feeds are overwhelmingly in
    windows-1252 (ISO-8859-1's superset) or their language's own Windows code page: with a
    declared language, its code pages; without, windows-1252 when the text reads as a Western
    language, windows-1250 when it reads as a Central European one; then detection."""
    language = language_hint(raw)
    for encoding in _CODE_PAGES.get(language or "", ()):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        log.debug("decoding.by_language", encoding=encoding, language=language)
        return text
    for encoding in ("cp1252", "cp1250"):
        text = raw.decode(encoding, errors="replace")
        if _reads_as_latin_script(text):
            log.debug("decoding.latin", encoding=encoding, declared=declared)
            return text
    best = from_bytes(raw[:200_000]).best()
    if best is None or best.encoding is None:
        raise UnsupportedFormat("the bytes are in no recognisable text encoding")
    log.debug("decoding.detected", encoding=best.encoding, declared=declared)
    return raw.decode(best.encoding, errors="replace")


def _reads_as_latin_script(text: str) -> bool:
    """Whether text decoded with a Latin code page reads as a language written in it: a few
    accented letters among plain ones, and no symbol inside a word (Polish "ł" read as
    windows-1252 is "³": "w³adza"), no control and no undefined byte."""
    sample = text[:200_000]
    letters = sum(1 for char in sample if char.isalpha())
    foreign = sum(1 for char in sample if ord(char) > 127 and char.isalpha())
    if not letters or foreign > letters * 0.3:
        return False  # Cyrillic, Greek, Hebrew... read as Latin: accents everywhere
    return _ODD_IN_LATIN.search(sample) is None


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
