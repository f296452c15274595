"""The hiredis-packing connection puts the same bytes on the wire as redis-py's own."""

from __future__ import annotations

import pytest
from redis.asyncio import Connection
from redis.exceptions import DataError

from shared.redis_packing import HiredisPackedConnection, Joined

COMMANDS: list[tuple[object, ...]] = [
    # ingest's append script: keys, then str, bytes, int, float and negative arguments
    ("EVALSHA", "a" * 40, 3, "news.ingested", "seen:dpa|urn:x|1", "owner:urn:x", 2592000,
     "ce_subject", "urn:ünïcode:☃", "data", b'{"uri": "urn:x"}', 10**15, 0.5, -2),
    # deliver's enqueue script: a record with escaped JSON inside
    ("EVALSHA", "a" * 40, 3, "webhooks:{sub_1}:due", "webhooks:{sub_1}:rec", "story:ab",
     "sub_1_evt", b'{"body": "{\\"data\\": \\"\\u2603\\"}"}', "urn:ünïcode:☃", "0"),
    # values long enough to go out on their own, first, between others and last
    ("EVALSHA", "a" * 40, 1, "webhooks:{sub_1}:rec", "sub_1_evt1", b'{"body": "' + b"x" * 7000
     + b'"}', "urn:1", "0", "sub_1_evt2", b"y" * 1025, b"z" * 1024, "urn:2", b"w" * 9000),
    ("SET", b"v" * 10_000, bytearray(b"b" * 7000)),
    ("SCRIPT LOAD", "return 1"),  # a command name of two words goes as two arguments
    (b"CLIENT SETNAME", "ingest"),
    ("XADD", "s", "*", "data", b""),
    ("XACK", "news.published", "webhooks", "1-0", "2-0"),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_is_packed_as_redis_py_packs_it(command: tuple[object, ...]) -> None:
    ours = b"".join(HiredisPackedConnection().pack_command(*command))
    theirs = b"".join(Connection().pack_command(*command))  # type: ignore[arg-type]
    assert ours == theirs


def test_a_long_value_is_not_copied_into_the_packed_command() -> None:
    record = b"r" * 50_000
    packed = HiredisPackedConnection().pack_command("EVALSHA", "a" * 40, 0, "id", record, "0")
    assert any(isinstance(chunk, memoryview) and chunk.obj is record for chunk in packed)


def test_a_joined_value_goes_out_as_its_parts_joined_without_copying_the_long_ones() -> None:
    body = b'"' + b"b" * 5000 + b'"'
    parts = (b'{"id":"x","body":', body, b',"attempts":[]}')
    ours = HiredisPackedConnection().pack_command(
        "EVALSHA", "a" * 40, 1, "rec", "id1", Joined(parts), "urn:1", Joined((b"s", b"t")), "0")
    theirs = Connection().pack_command(
        "EVALSHA", "a" * 40, 1, "rec", "id1", b"".join(parts), "urn:1", b"st", "0")
    assert b"".join(ours) == b"".join(theirs)
    assert any(isinstance(chunk, memoryview) and chunk.obj is body for chunk in ours)


def test_a_value_redis_cannot_take_is_refused_as_redis_py_refuses_it() -> None:
    with pytest.raises(DataError):
        HiredisPackedConnection().pack_command("SET", "k", None)
    with pytest.raises(DataError):
        HiredisPackedConnection().pack_command("SET", b"v" * 10_000, None)


@pytest.mark.parametrize("long_after", [False, True])
def test_a_joined_value_of_short_parts_is_packed_as_its_parts_joined(long_after: bool) -> None:
    tail: tuple[object, ...] = ("urn:2", b"l" * 3000) if long_after else ()
    ours = HiredisPackedConnection().pack_command(
        "EVALSHA", "a" * 40, 1, "rec", Joined((b'{"id":', b'"x"', b"}")), 7, "\u2603", *tail)
    theirs = Connection().pack_command(
        "EVALSHA", "a" * 40, 1, "rec", b'{"id":"x"}', 7, "\u2603", *tail)  # type: ignore[arg-type]
    assert b"".join(ours) == b"".join(theirs)
