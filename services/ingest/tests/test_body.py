"""Request bodies: gzip and deflate inflated while streaming, within the request limit."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import AsyncIterator

import pytest

from ingest.body import read_stream
from ingest.errors import ParseError, PayloadTooLarge, UnsupportedFormat

STORY = b"Harbour fire\n\nFirefighters in Hamburg fought a blaze at the harbour. " * 20
LIMIT = 10_000_000


async def _chunks(data: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(("coding", "packed"), [
    ("gzip", gzip.compress(STORY)),
    ("x-gzip", gzip.compress(STORY)),
    ("deflate", zlib.compress(STORY)),  # as HTTP defines it: zlib-wrapped
    ("deflate", _raw_deflate(STORY)),  # as some clients send it
    ("GZIP", gzip.compress(STORY[:100]) + gzip.compress(STORY[100:])),  # two members
    ("identity", STORY),
], ids=["gzip", "x-gzip", "deflate", "raw-deflate", "two-members", "identity"])
async def test_compressed_bodies_are_read_as_the_story_they_carry(
        coding: str, packed: bytes) -> None:
    assert await read_stream(_chunks(packed, 7), coding, LIMIT) == STORY


async def test_a_small_body_that_inflates_past_the_limit_is_refused_at_once() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)
    assert len(bomb) < 60_000
    started = time.process_time()
    with pytest.raises(PayloadTooLarge) as refused:
        await read_stream(_chunks(bomb), "gzip", LIMIT)
    assert time.process_time() - started < 0.5  # stopped near the limit, not at 50 MB
    assert refused.value.field == "body"


@pytest.mark.parametrize(("coding", "packed", "error"), [
    ("br", b"anything", UnsupportedFormat),
    ("gzip, gzip", gzip.compress(gzip.compress(STORY)), UnsupportedFormat),
    ("gzip", gzip.compress(STORY)[:-20], ParseError),  # truncated
    ("gzip", b"\x1f\x8b\x08\x00garbage-not-deflate", ParseError),
    ("deflate", b"plain text sent as deflate", ParseError),
], ids=["br", "stacked", "truncated", "corrupt", "not-deflate"])
async def test_unknown_corrupt_or_truncated_encodings_get_a_clear_error(
        coding: str, packed: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as refused:
        await read_stream(_chunks(packed), coding, LIMIT)
    assert refused.value.field == "content-encoding"  # type: ignore[attr-defined]
