"""The operations dashboard: ``GET /dashboard`` (an HTML page) fed by ``GET /v1/ops/snapshot``.

Both sit behind the admin key. A browser cannot send a bearer token when it opens a page, so the
page itself is served to anyone with no data in it; it asks for the key once, keeps it in
``sessionStorage`` and polls the snapshot with it. A request that does carry the key (a proxy
that adds it, curl) gets the page with the first snapshot already in it. The page, its script and
its style ship with the package: nothing is loaded from elsewhere, so it works offline.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Header
from fastapi.responses import HTMLResponse, Response

from shared.ops import OpsReader

from publish.errors import PublishError

ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "connect-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def dashboard_router(reader: OpsReader, guard: Any) -> APIRouter:
    router = APIRouter()
    page = _asset("page.html")
    assets = {name: _asset(name) for name in ASSETS}

    @router.get("/v1/ops/snapshot", tags=["operations"], dependencies=[Depends(guard)])
    async def ops_snapshot() -> dict[str, Any]:
        """Each stage's rate, lag, pending, oldest pending age, dead letters and replicas;
        webhook health per subscription; the latest published stories; SSE clients.
        `status` is ok, amber or red; `stuck` lists the stages that stopped consuming."""
        return (await reader.snapshot()).to_dict()

    @router.get("/dashboard", include_in_schema=False)
    async def dashboard(authorization: str | None = Header(None)) -> HTMLResponse:
        initial = ""
        if authorization:
            try:
                await guard(authorization)
            except PublishError:
                pass  # the page asks for the key itself
            else:
                data = orjson.dumps((await reader.snapshot()).to_dict()).decode()
                # Inside <script>: no "</" may end it early.
                initial = data.replace("<", "\\u003c")
        return HTMLResponse(page.replace("{{initial}}", initial), headers=SECURITY_HEADERS)

    @router.get("/dashboard/{name}", include_in_schema=False)
    async def dashboard_asset(name: str) -> Response:
        if name not in ASSETS:
            return Response(status_code=404)
        return Response(assets[name], media_type=ASSETS[name],
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Cache-Control": "no-cache"})

    return router
