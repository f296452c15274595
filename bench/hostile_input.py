"""CPU time ingest spends on hostile documents, beside what the bare sanitizer (the path every
HTML body took before its shape was checked) spends on the same markup, in one run.

uv run python bench/hostile_input.py
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import nh3
import orjson
import structlog

from ingest.errors import IngestError
from ingest.parsing import parse_document

STORY = "Firefighters fought a blaze at the harbour. Nobody was hurt, the city said."


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    print(f"{'document':44s} {'bytes':>10s} {'bare nh3 s':>11s} {'ingest s':>9s}  outcome")
    for count in (20_000, 40_000, 80_000):
        markup = "<p " + " ".join(f'a{i}="x"' for i in range(count)) + f">{STORY}</p>"
        _row(f"one element, {count:,} attributes", markup)
    for depth in (20_000, 80_000):
        _row(f"{depth:,} nested divs", "<div>" * depth + STORY + "</div>" * depth)
    _row("1,500,000 &amp; references", "<p>" + "&amp;" * 1_500_000 + "</p>")
    items = orjson.dumps([{"uri": f"urn:x:{i}", "headline": f"Story {i}", "body": STORY}
                          for i in range(40_000)])
    _report("40,000 JSON items (limit 1,000)", len(items), None,
            _cpu(lambda: parse_document(items, provider="bench")))
    paragraph = f"<p>{STORY * 6}</p>"
    nitf = (f"<nitf><head><title>Storm</title></head><body><body.content>"
            f"{paragraph * (9_600_000 // len(paragraph))}</body.content></body></nitf>").encode()
    _report("9.6 MB NITF story", len(nitf), None,
            _cpu(lambda: parse_document(nitf, provider="bench")))


def _row(name: str, markup: str) -> None:
    bare = _cpu(lambda: nh3.clean(markup))[0]
    raw = orjson.dumps({"uri": "urn:x:1", "headline": "Storm", "body_html": markup})
    _report(name, len(raw), bare, _cpu(lambda: parse_document(raw, provider="bench")))


def _report(name: str, size: int, bare: float | None, measured: tuple[float, str]) -> None:
    took, outcome = measured
    shown = f"{bare:11.2f}" if bare is not None else f"{'-':>11s}"
    print(f"{name:44s} {size:>10,d} {shown} {took:9.2f}  {outcome}", flush=True)


def _cpu(call: Callable[[], object]) -> tuple[float, str]:
    started = time.process_time()
    try:
        result = call()
        outcome = "read" if not getattr(result, "rejections", None) else (
            "item refused: " + result.rejections[0].error.message[:60])  # type: ignore[attr-defined]
    except IngestError as exc:
        outcome = f"{exc.status}: {exc.message[:60]}"
    return time.process_time() - started, outcome


if __name__ == "__main__":
    main()
