"""Process tuning every service applies once started: the garbage collector off the hot path,
and an HTTP server that does not wake ten times a second for nothing.

A service's heap after start-up is large and long-lived (FastAPI, pydantic schemas, the
drivers, enrich's lexicons) and every stream entry allocates many short-lived containers
(decoded JSON, pydantic models). With CPython's default thresholds the collector ran so often,
and each full pass walked the whole start-up heap, that it took most of publish's CPU per story
(py-spy, bench/pipeline.py). Freezing the start-up heap keeps it out of every later pass, and a
larger young generation makes the passes rarer; reference cycles are still collected.

A service that allocates megabytes a batch and frees them at its end can have the allocator
keep that memory for the next batch (`keep_freed_memory`) instead of giving it back each time.

uvicorn's server loop wakes every 0.1 s to look for a shutdown request and, every tenth time,
to refresh the ``Date`` header: about 1.3 ms of CPU a second per idle process, a quarter of what
a whole service spent per second with stories trickling in (bench/pipeline.py). `serve`
runs the same server waking once a second (the header still changes every second), and a
shutdown signal wakes it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import sys
from types import FrameType
from typing import Any

import uvicorn

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
TICK_S = 1.0
STARTUP_FAILURE = 3  # uvicorn.run's exit status when the app did not start


def settle_heap() -> None:
    """Call once start-up is done, right before serving."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


def keep_freed_memory(kept_bytes: int) -> bool:
    """Have glibc's allocator keep up to ``kept_bytes`` of freed memory for reuse, and take
    blocks of up to half that from it rather than from fresh mappings; False where the C
    library has no ``mallopt`` (not glibc), which changes nothing.

    By default glibc hands freed memory at the top of the heap back to the system past 128 KB
    (a little more once it has seen large blocks freed), and the next batch takes a page fault,
    a few µs here, on every page of it again. deliver's fan-out allocates each story's data, body
    and escaped body (20 KB or so, a hundred stories a batch) and frees them once the batch is
    queued: those faults were a quarter of its CPU per story (bench/webhook_fanout.py). The
    price is up to ``kept_bytes`` more resident memory after a burst."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, kept_bytes // 2)
                and mallopt(M_TRIM_THRESHOLD, kept_bytes))


class QuietServer(uvicorn.Server):
    """uvicorn's server with a one-second tick; a signal ends the wait at once."""

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0  # a multiple of 10: uvicorn refreshes the Date header on every tick
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864_000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await self._wake.wait()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            # A signal handler runs between two bytecodes of whatever the loop was doing.
            loop.call_soon_threadsafe(wake.set)


def serve(app: Any, **config: Any) -> None:
    """``uvicorn.run(app, **config)`` for one process, with `QuietServer`."""
    server = QuietServer(uvicorn.Config(app, **config))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
