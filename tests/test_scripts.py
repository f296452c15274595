"""Script calls in one round trip, against a Redis that may not know the scripts yet."""

from __future__ import annotations

import secrets

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.scripts import run_scripts


async def test_scripts_the_server_does_not_know_yet_still_run(aredis: Redis, prefix: str) -> None:
    # A restarted Redis has forgotten every script: the calls of a pipeline answer NOSCRIPT and
    # must run once loaded. A script text no one has sent before stands in for that state.
    token = secrets.token_hex(8)
    script = aredis.register_script(f"return redis.call('INCR', KEYS[1]) -- {token}")
    key = f"{prefix}{token}"
    assert await aredis.script_exists(script.sha) == [False]
    assert await run_scripts(aredis, [(script, [key], []), (script, [key], [])]) == [1, 2]
    assert await aredis.get(key) == b"2"  # each call ran once, not again after the load


async def test_a_single_call_unknown_to_the_server_runs_once(aredis: Redis, prefix: str) -> None:
    token = secrets.token_hex(8)
    script = aredis.register_script(f"return redis.call('INCR', KEYS[1]) -- {token}")
    key = f"{prefix}{token}"
    assert await aredis.script_exists(script.sha) == [False]
    assert await run_scripts(aredis, [(script, [key], [])]) == [1]
    assert await aredis.get(key) == b"1"


async def test_an_error_of_a_script_is_raised(aredis: Redis, prefix: str) -> None:
    fails = aredis.register_script("return redis.error_reply('no such thing')")
    counts = aredis.register_script("return redis.call('INCR', KEYS[1])")
    with pytest.raises(ResponseError, match="no such thing"):
        await run_scripts(aredis, [(counts, [f"{prefix}n"], []), (fails, [], [])])


async def test_writes_go_first_and_their_errors_are_raised(aredis: Redis, prefix: str) -> None:
    # A script the server does not know yet: it runs after its load, still after the writes.
    token = secrets.token_hex(8)
    reads = aredis.register_script(f"return redis.call('HGET', KEYS[1], 'a') -- {token}")
    key = f"{prefix}{token}"
    assert await run_scripts(aredis, [(reads, [key], [])], [("HSET", key, "a", "1")]) == [b"1"]
    await aredis.set(f"{prefix}plain", "x")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await run_scripts(aredis, [(reads, [key], [])], [("HSET", f"{prefix}plain", "a", "2")])
