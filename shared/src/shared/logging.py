"""configure_logging(): structlog set up once per process."""

from __future__ import annotations

import functools
import logging
import sys
from typing import Literal

import structlog


def configure_logging(
    level: str = "INFO", json: bool | None = None, stream: Literal["stdout", "stderr"] = "stdout"
) -> None:
    """JSON lines when not on a terminal (or when asked), a console renderer on a terminal.

    Lines go to whatever ``sys.stdout`` (or ``sys.stderr``) is when they are written: loggers
    are not cached, so code that swaps the stream, such as a test runner or a CLI runner, never
    leaves a logger writing to a closed file.
    """
    if json is None:
        json = not getattr(sys, stream).isatty()
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
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
        logger_factory=functools.partial(_current_stream, stream),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, force=True)
    # FastStream logs one line per message; the canonical line per message is ours.
    logging.getLogger("faststream").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def _current_stream(name: str, *args: object) -> structlog.PrintLogger:
    return structlog.PrintLogger(getattr(sys, name))
