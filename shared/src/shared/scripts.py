"""Lua script calls in one round trip, whatever Redis remembers of the scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

ScriptCall = tuple[AsyncScript, Sequence[Any], Sequence[Any]]  # script, keys, args


async def run_scripts(redis: Redis, calls: Sequence[ScriptCall],
                      writes: Sequence[Sequence[Any]] = ()) -> list[Any]:
    """The calls' results, in order: one EVALSHA, or one pipeline of them.

    ``writes``, plain commands the calls depend on, go first in the same pipeline (their replies
    are not returned; an error in one is raised after the pipeline ran). Not redis-py's
    pipelined scripts, which ask ``SCRIPT EXISTS`` first: a second round trip on every call. A
    script the server does not know (restarted, flushed) is loaded and its calls run again;
    NOSCRIPT means they did not run at all. Any other error is raised."""
    if len(calls) == 1 and not writes:
        script, keys, args = calls[0]
        return [await script(keys=keys, args=args, client=redis)]  # loads it on NOSCRIPT
    pipe = redis.pipeline(transaction=False)
    for command in writes:
        pipe.execute_command(*command)
    for script, keys, args in calls:
        pipe.evalsha(script.sha, len(keys), *keys, *args)
    replies = await pipe.execute(raise_on_error=False)
    for reply in replies[:len(writes)]:
        if isinstance(reply, Exception):
            raise reply
    results = replies[len(writes):]
    for index, result in enumerate(results):
        if isinstance(result, NoScriptError):
            script, keys, args = calls[index]
            results[index] = await script(keys=keys, args=args, client=redis)
        elif isinstance(result, Exception):
            raise result
    return list(results)
