"""Offline enrichment for ``newsflow enrich``: the service's own code, without any server."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from shared.article import Article

from enrich.enrichment import Enricher
from ingest.errors import IngestError
from ingest.parsing import parse

BATCH = 32


def enrich_file(path: Path, out: IO[str]) -> None:
    """Parse a file in any supported format and print the enriched article(s) as JSON."""
    try:
        articles = parse(path.read_bytes(), None, provider="cli")
    except (OSError, IngestError) as exc:
        raise ValueError(str(exc)) from exc
    enriched = Enricher().enrich_many(articles)
    payload: Any = enriched[0].wire() if len(enriched) == 1 else [a.wire() for a in enriched]
    out.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")


def enrich_jsonl(lines: Iterable[str], out: IO[str]) -> None:
    """``{"id", "text"}`` lines in, one enriched article per line out, in order, with its id."""
    enricher = Enricher()
    for batch in _batches(lines, BATCH):
        ready: list[tuple[Any, Article | str]] = [_read_line(line) for line in batch]
        todo = [(i, a) for i, (_, a) in enumerate(ready) if isinstance(a, Article)]
        results = enricher.enrich_many_safe([a for _, a in todo])
        done: dict[int, Article | BaseException] = {
            i: r for (i, _), r in zip(todo, results, strict=True)}
        for index, (line_id, item) in enumerate(ready):
            result = done.get(index, item)
            if isinstance(result, Article):
                record = {"id": line_id, **result.wire()}
            else:
                record = {"id": line_id, "error": str(result)}
            out.write(orjson.dumps(record).decode() + "\n")
        out.flush()


def _read_line(line: str) -> tuple[Any, Article | str]:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON: {exc}"
    if not isinstance(record, dict):
        return None, "each line must be a JSON object with id and text"
    line_id = record.get("id")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        return line_id, "text: missing or empty"
    try:
        return line_id, parse(text.encode(), "text/plain", provider="cli")[0]
    except IngestError as exc:
        return line_id, f"{exc.field or 'text'}: {exc.message}"


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        if line.strip():
            batch.append(line)
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch
