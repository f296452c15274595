"""configure_logging(): structlog set up once per process."""

from __future__ import annotations

import json as stdjson
import logging
import sys
from typing import Any, Literal

import orjson
import structlog


def configure_logging(
    level: str = "INFO", json: bool | None = None, stream: Literal["stdout", "stderr"] = "stdout"
) -> None:
    """JSON lines when not on a terminal (or when asked), a console renderer on a terminal.

    Lines go to whatever ``sys.stdout`` (or ``sys.stderr``) is when they are written, so code
    that swaps the stream, such as a test runner or a CLI runner, never leaves a logger writing
    to a closed file, and a logger bound once (``log.bind()``, to spare a hot path the lazy
    proxy's work on every call) stays right.
    """
    if json is None:
        json = not getattr(sys, stream).isatty()
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(_dumps) if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *args: _CurrentStream(stream),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)
    # FastStream logs one line per message; the canonical line per message is ours.
    logging.getLogger("faststream").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


class _CurrentStream:
    """A structlog logger that prints each line to what ``sys.<name>`` is at that moment."""

    def __init__(self, name: Literal["stdout", "stderr"]) -> None:
        self.name = name

    def msg(self, message: str) -> None:
        print(message, file=getattr(sys, self.name), flush=True)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def _dumps(event: dict[str, Any], **kw: Any) -> str:
    """One JSON line, by orjson (a few times faster); what it cannot take (keys that are not
    text, integers past 64 bits) by the standard library, as structlog would."""
    try:
        return orjson.dumps(
            event, default=kw.get("default"), option=orjson.OPT_NON_STR_KEYS
        ).decode()
    except TypeError:
        return stdjson.dumps(event, **kw)
