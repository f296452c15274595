"""deliver's Redis connection puts the same bytes on the wire as redis-py's own."""

from __future__ import annotations

import pytest
from redis.asyncio import Connection
from redis.exceptions import DataError

from deliver.app import HiredisPackedConnection

COMMANDS: list[tuple[object, ...]] = [
    ("EVALSHA", "a" * 40, 3, "webhooks:{sub_1}:due", "webhooks:{sub_1}:rec", "story:ab",
     "sub_1_evt", b'{"body": "{\\"data\\": \\"\\u2603\\"}"}', "urn:ünïcode:☃", "0",
     10**15, 0.5, -2),
    ("SCRIPT LOAD", "return 1"),  # a command name of two words goes as two arguments
    ("XACK", "news.published", "webhooks", "1-0", "2-0"),
    ("HSET", "k", "f", b""),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_is_packed_as_redis_py_packs_it(command: tuple[object, ...]) -> None:
    ours = b"".join(HiredisPackedConnection().pack_command(*command))
    theirs = b"".join(Connection().pack_command(*command))  # type: ignore[arg-type]
    assert ours == theirs


def test_a_value_redis_cannot_take_is_refused_as_redis_py_refuses_it() -> None:
    with pytest.raises(DataError):
        HiredisPackedConnection().pack_command("SET", "k", None)
