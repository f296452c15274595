"""A redis-py asyncio connection that packs commands with hiredis, as redis-py's blocking one does.

redis-py's asyncio connection packs every argument in Python. A story's intake script (25
arguments) took 16 µs to pack that way against 2 µs in hiredis, and packing was a quarter of
deliver's own fan-out CPU (each story queued as arguments of one script call). hiredis puts the
same bytes on the wire (``shared/tests/test_redis_packing.py``). Services that write a lot pass it
as ``connection_class``; ``rediss://`` and ``unix://`` URLs keep redis-py's own classes.

hiredis copies every argument into one new buffer, and then into a new ``bytes``: for deliver's
enqueue (a hundred records of 4 to 10 KB in one script call) that is two fresh megabyte-sized
allocations per call, which the allocator maps afresh each time, and their page faults (a few
µs each here) made packing cost 16 µs a record against 2 µs for the copies themselves. As
redis-py's own packer does, a ``bytes`` argument longer than ``LARGE`` goes out as it is (a
``memoryview``, which redis-py's pipeline does not join with its neighbours either), its own
item in the list of buffers written, and hiredis packs only the small ones around it: a story's
body, sent in the enqueue call of each of its subscriptions, is not copied at all.

A `Joined` argument is one value written from its parts: a record goes to Redis whole, so its
script does not join it in Lua (a fresh 4 KB Lua string a record, the larger part of the
script's CPU), while its body, shared by every subscription's record, is still not copied.
`joined` makes one for a client of this class, and joins the parts for any other.
"""

from __future__ import annotations

from typing import cast

import hiredis
from redis.asyncio import Connection, Redis
from redis.exceptions import DataError
from redis.typing import EncodableT

# Bytes past which a value is written from where it is: a body (a few KB) is, a record's other
# parts (ids, keys, the JSON around the body: tens to hundreds of bytes) are packed.
LARGE = 1024


class Joined(tuple[bytes, ...]):
    """One argument: its parts, one after the other."""


def joined(redis: Redis, parts: tuple[bytes, ...]) -> bytes | Joined:
    """The argument that sends ``parts`` as one value through ``redis``."""
    if issubclass(redis.connection_pool.connection_class, HiredisPackedConnection):
        return Joined(parts)
    return b"".join(parts)


class HiredisPackedConnection(Connection):
    def pack_command(self, *args: EncodableT) -> list[bytes]:
        name = args[0]
        if (isinstance(name, str) and " " in name) or (isinstance(name, bytes) and b" " in name):
            args = (*name.split(), *args[1:])  # "SCRIPT LOAD" goes as two arguments
        # Runs of small arguments are packed by hiredis, one call a run, and joined with the
        # small parts of the values around them; long parts go between the runs as they are.
        # Type checks by identity first: this loop runs for every argument of an enqueue call
        # (five a delivery), and isinstance against a union cost more than the packing.
        out: list[bytes | memoryview] = []
        small: list[_Packable] = []
        run = [b"*%d\r\n" % len(args)]  # packed pieces since the last long part
        for arg in args:
            if type(arg) is str or type(arg) is int:
                small.append(arg)
                continue
            parts: tuple[bytes, ...]
            if type(arg) is Joined:
                parts = arg
            elif type(arg) is bytes and len(arg) > LARGE:
                parts = (arg,)
            else:
                small.append(bytes(arg) if isinstance(arg, bytearray | memoryview) else arg)
                continue
            if small:
                run.append(_items(small))
                small = []
            run.append(b"$%d\r\n" % sum(map(len, parts)))
            for part in parts:
                if len(part) > LARGE:
                    out += [b"".join(run), memoryview(part)]
                    run = []
                else:
                    run.append(part)
            run.append(b"\r\n")
        if not out and len(run) == 1:
            return [_pack(small)]  # nothing long: one hiredis call packs the whole command
        if small:
            run.append(_items(small))
        out.append(b"".join(run))
        return cast(list[bytes], out)  # as redis-py's own packer, annotated so, returns too


_Packable = str | int | float | bytes


def _pack(args: list[_Packable]) -> bytes:
    try:
        # hiredis's stub declares a tuple of one item; any number is taken
        packed: bytes = hiredis.pack_command(tuple(args))  # type: ignore[arg-type]
    except TypeError as exc:
        raise DataError(exc) from exc
    return packed


def _items(args: list[_Packable]) -> bytes:
    """The RESP items of these arguments, without the array's header."""
    if not args:
        return b""
    packed = _pack(args)
    return packed[packed.index(b"\r\n") + 2:]
