"""The read API's parameters, over a fake store."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from publish.api import read_router
from publish.errors import PublishError
from publish.store import Page, Query


class FakeStore:
    def __init__(self) -> None:
        self.queries: list[tuple[Query, int]] = []

    async def page(self, query: Query, limit: int, cursor: str | None = None) -> Page:
        self.queries.append((query, limit))
        return Page([], None)


async def get(store: FakeStore, url: str) -> httpx.Response:
    app = FastAPI()
    app.include_router(read_router(store, 100))  # type: ignore[arg-type]
    app.add_exception_handler(PublishError, lambda request, exc: JSONResponse(
        exc.body(), status_code=exc.status))  # type: ignore[arg-type, attr-defined]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://publish") as client:
        return await client.get(url)


async def test_an_unencoded_plus_in_a_time_offset_is_understood() -> None:
    store = FakeStore()
    response = await get(store, "/v1/articles?since=2026-01-01T01:00:00+01:00")
    assert response.status_code == 200
    assert store.queries[0][0].since_ms == 1767225600000  # 2026-01-01T00:00:00Z


async def test_limits_are_capped_by_the_setting() -> None:
    store = FakeStore()
    await get(store, "/v1/articles?limit=500")
    assert store.queries[0][1] == 100


async def test_a_bad_time_names_the_parameter() -> None:
    response = await get(FakeStore(), "/v1/articles?until=yesterday")
    body: dict[str, Any] = response.json()
    assert response.status_code == 400 and body["error"]["field"] == "until"


async def test_an_empty_time_window_is_refused_naming_until() -> None:
    store = FakeStore()
    for window in ("since=2026-01-02&until=2026-01-01", "since=2026-01-01&until=2026-01-01"):
        response = await get(store, f"/v1/articles?{window}")
        assert response.status_code == 400 and response.json()["error"]["field"] == "until"
    assert store.queries == []
    assert (await get(store, "/v1/articles?since=2026-01-01&until=2026-01-02")).status_code == 200


async def test_control_and_bidi_characters_in_a_filter_are_refused_naming_it() -> None:
    store = FakeStore()
    for name, value in (("entity", "Acme%0D%0Afake%20log"), ("source", "dpa%E2%80%AE"),
                        ("topic", "medtop%3A%0011000000"), ("language", "en%C2%85"),
                        ("cursor", "abc%1B")):
        response = await get(store, f"/v1/articles?{name}={value}")
        assert response.status_code == 422, (name, response.text)
        assert response.json()["error"]["field"] == name
    assert store.queries == []
    assert (await get(store, "/v1/articles?entity=Acme%20Corp")).status_code == 200
