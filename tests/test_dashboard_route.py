"""publish's dashboard routes: the admin key guards the data, never the empty page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from redis.asyncio import Redis

from shared.events import INGESTED_STREAM
from shared.ops import OpsReader

from publish.auth import admin_guard
from publish.dashboard import dashboard_router
from publish.errors import PublishError

pytestmark = pytest.mark.integration
KEY = "ops-key"


@pytest.fixture
async def client(aredis: Redis, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(dashboard_router(OpsReader(aredis, prefix),
                                        admin_guard(SecretStr(KEY))))

    @app.exception_handler(PublishError)
    async def error(request: Request, exc: PublishError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client


async def test_the_snapshot_needs_the_admin_key(client: httpx.AsyncClient, aredis: Redis,
                                                prefix: str) -> None:
    await aredis.xadd(prefix + INGESTED_STREAM, {"ce_id": "1"})
    assert (await client.get("/v1/ops/snapshot")).status_code == 401
    wrong = await client.get("/v1/ops/snapshot", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["field"] == "authorization"
    ok = await client.get("/v1/ops/snapshot", headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200
    assert {s["name"]: s["through"] for s in ok.json()["stages"]}["ingest"] == 1


async def test_the_page_carries_data_only_for_the_key_and_loads_nothing_from_elsewhere(
        client: httpx.AsyncClient, aredis: Redis, prefix: str) -> None:
    await aredis.xadd(prefix + INGESTED_STREAM, {"ce_id": "1", "ce_subject": "</script><b>"})
    anonymous = await client.get("/dashboard")
    assert anonymous.status_code == 200
    assert anonymous.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in anonymous.headers["content-security-policy"]
    assert '<script id="initial-snapshot" type="application/json"></script>' in anonymous.text
    assert "http://" not in anonymous.text and "https://" not in anonymous.text
    keyed = await client.get("/dashboard", headers={"Authorization": f"Bearer {KEY}"})
    assert f'"prefix":"{prefix}"' in keyed.text
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        asset = await client.get(f"/dashboard/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert "https://" not in asset.text
    assert (await client.get("/dashboard/other.js")).status_code == 404


def test_the_openapi_document_lists_the_snapshot_and_not_the_page(aredis: Redis) -> None:
    app = FastAPI()
    app.include_router(dashboard_router(OpsReader(aredis), admin_guard(SecretStr(KEY))))
    paths = app.openapi()["paths"]
    assert "/v1/ops/snapshot" in paths
    assert not any(p.startswith("/dashboard") for p in paths)
