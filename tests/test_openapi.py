"""Each service serves a valid OpenAPI 3 document describing its main paths, and its /docs page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate

from ingest.app import create_app as create_ingest
from ingest.settings import IngestSettings
from publish.app import create_app as create_publish
from publish.settings import PublishSettings

# Nothing connects until the lifespan starts, which ASGITransport does not run: no servers needed.
APPS = {
    "ingest": lambda: create_ingest(IngestSettings(ingest_keys={"dpa": "ab" * 32})),
    "publish": lambda: create_publish(PublishSettings()),
}
MAIN_PATHS = {
    "ingest": {"/v1/articles": {"post"}, "/healthz": {"get"}, "/readyz": {"get"},
               "/metrics": {"get"}},
    "publish": {"/v1/articles": {"get"}, "/v1/articles/{uri}": {"get"}, "/v1/stream": {"get"},
                "/feeds/{topic}.atom": {"get"}, "/feeds/{topic}.json": {"get"},
                "/stories/{uri}": {"get"}, "/healthz": {"get"}, "/metrics": {"get"}},
}


async def get(app: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://service") as client:
        return await client.get(path)


@pytest.mark.parametrize("service", sorted(APPS))
async def test_openapi_document_is_valid_and_describes_the_main_paths(service: str) -> None:
    response = await get(APPS[service](), "/openapi.json")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    validate(document)  # raises on anything OpenAPI 3 does not allow
    assert document["openapi"].startswith("3.")
    for path, methods in MAIN_PATHS[service].items():
        assert path in document["paths"], path
        assert methods <= set(document["paths"][path]), path
        for operation in document["paths"][path].values():
            assert operation["responses"], path


@pytest.mark.parametrize("service", sorted(APPS))
async def test_docs_page_answers(service: str) -> None:
    response = await get(APPS[service](), "/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


async def test_the_stream_is_described_as_server_sent_events() -> None:
    document = (await get(APPS["publish"](), "/openapi.json")).json()
    stream = document["paths"]["/v1/stream"]["get"]
    assert set(stream["responses"]["200"]["content"]) == {"text/event-stream"}
    assert "last_event_id" in {p["name"] for p in stream["parameters"]}
