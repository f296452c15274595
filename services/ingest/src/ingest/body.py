"""The request body, read within the size limit; gzip and deflate bodies are inflated while
streaming, the inflated size held to the same limit (a small bomb is refused at once)."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Mapping

from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive

from ingest.errors import ParseError, PayloadTooLarge, UnsupportedFormat

_GZIP = 16 + zlib.MAX_WBITS
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS


async def read_body(headers: Mapping[str, str], receive: Receive, limit: int) -> bytes:
    """The body of an ASGI request (lower-case header names), read from ``receive``."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes; the limit is {limit}", "body")
    coding = headers.get("content-encoding") or "identity"
    first = await receive()
    if coding == "identity" and first["type"] == "http.request" and not first.get("more_body"):
        # The usual story: one uncompressed chunk, taken as it is.
        body: bytes = first.get("body", b"")
        if len(body) > limit:
            raise PayloadTooLarge(f"body over the limit of {limit} bytes", "body")
        return body
    return await read_stream(_chunks(first, receive), coding, limit)


async def read_stream(chunks: AsyncIterator[bytes], coding: str, limit: int) -> bytes:
    """The bytes of a (possibly compressed) body; PayloadTooLarge as soon as either the sent
    or the inflated bytes pass ``limit``."""
    codings = [c.strip() for c in coding.lower().split(",") if c.strip() not in ("", "identity")]
    if len(codings) > 1 or any(c not in ("gzip", "x-gzip", "deflate") for c in codings):
        raise UnsupportedFormat(
            f"Content-Encoding {coding[:40]!r}; send gzip, deflate or an uncompressed body",
            field="content-encoding",
        )
    inflater = _Inflater(codings[0], limit) if codings else None
    out: list[bytes] = []
    sent = 0
    async for chunk in chunks:
        sent += len(chunk)
        if sent > limit:
            raise PayloadTooLarge(f"body over the limit of {limit} bytes", "body")
        out.append(inflater.feed(chunk) if inflater else chunk)
    if inflater:
        inflater.finish()
    return b"".join(out)


async def _chunks(message: Message, receive: Receive) -> AsyncIterator[bytes]:
    """The body chunks of an ASGI request, from its first message on."""
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] == "http.request":
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body"):
                return
        message = await receive()


class _Inflater:
    """Streaming gzip/deflate that never holds more than the limit of inflated bytes."""

    def __init__(self, coding: str, limit: int) -> None:
        self.coding = coding
        self.limit = limit
        self.size = 0
        self.started = False
        self.inflater = zlib.decompressobj(_GZIP if coding != "deflate" else _ZLIB)

    def feed(self, data: bytes) -> bytes:
        if not self.started and data:
            self.started = True
            if self.coding == "deflate" and not _zlib_header(data):
                self.inflater = zlib.decompressobj(_RAW_DEFLATE)  # deflate sent without zlib
        parts = []
        while data:
            if self.inflater.eof:  # a stream ended: another gzip member may follow
                if self.coding == "deflate":
                    break  # bytes after the deflate stream are not part of it
                self.inflater = zlib.decompressobj(_GZIP)
            try:
                part = self.inflater.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                raise ParseError(
                    f"the {self.coding} body is corrupt: {exc}", field="content-encoding"
                ) from exc
            self.size += len(part)
            if self.size > self.limit:
                raise PayloadTooLarge(
                    f"the body inflates to over the limit of {self.limit} bytes", "body"
                )
            parts.append(part)
            data = self.inflater.unused_data if self.inflater.eof else self.inflater.unconsumed_tail
        return b"".join(parts)

    def finish(self) -> None:
        if not self.started:
            return
        if not self.inflater.eof:
            raise ParseError(f"the {self.coding} body is truncated", field="content-encoding")


def _zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
