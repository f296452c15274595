"""The read API: one story by uri, and pages of stories with filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from shared.identifiers import unsafe_value

from publish.errors import BadRequest, Invalid, NotFound
from publish.store import ArticleStore
from publish.store import Query as StoryQuery

_DECODED_PLUS = re.compile(r" (\d{2}(:?\d{2})?)$")


def read_router(store: ArticleStore, limit_max: int) -> APIRouter:
    router = APIRouter(tags=["read"])

    @router.get("/v1/articles")
    async def list_articles(
        limit: int = Query(20, ge=1, le=1000),
        cursor: str | None = None,
        topic: str | None = Query(None, description="medtop code, e.g. medtop:11000000"),
        entity: str | None = Query(None, description="a person, organisation or place name"),
        language: str | None = None,
        source: str | None = None,
        since: str | None = Query(None, description="ISO 8601; versionCreated at or after"),
        until: str | None = Query(None, description="ISO 8601; versionCreated before"),
    ) -> dict[str, Any]:
        """Newest first; pass `next_cursor` back as `cursor` for the next page."""
        for name, value in (("topic", topic), ("entity", entity), ("language", language),
                            ("source", source), ("cursor", cursor)):
            if unsafe_value(value):
                raise Invalid(f"{name}: control and bidi characters are not allowed", name)
        since_ms, until_ms = _ms(since, "since"), _ms(until, "until")
        if since_ms is not None and until_ms is not None and since_ms >= until_ms:
            raise BadRequest(f"until: must be later than since ({since!r})", "until")
        query = StoryQuery(topic=topic, entity=entity, language=language, source=source,
                           since_ms=since_ms, until_ms=until_ms)
        page = await store.page(query, min(limit, limit_max), cursor)
        return {"items": [s.article for s in page.items], "next_cursor": page.next_cursor}

    @router.get("/v1/articles/{uri:path}")
    async def get_article(uri: str) -> JSONResponse:
        story = await store.get(uri)
        if story is None:
            raise NotFound(f"no story with uri {uri!r}", "uri")
        if story.killed:
            return JSONResponse(
                {"error": {"code": "killed", "message": "this story was withdrawn",
                           "field": "uri"}, "kill": story.article}, status_code=410)
        return JSONResponse(story.article)

    return router


def _ms(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    # An unencoded "+01:00" in a query string arrives as " 01:00".
    value = _DECODED_PLUS.sub(r"+\1", value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{name}: not an ISO 8601 time: {value!r}", name) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)
