"""The admin API's guard and validation, in process (no request here reaches Redis or MongoDB)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from deliver.app import create_app
from deliver.settings import DeliverSettings

KEY = "the-admin-key"
ROUTES = [("POST", "/v1/subscriptions"), ("GET", "/v1/subscriptions"),
          ("GET", "/v1/subscriptions/sub_1"), ("PATCH", "/v1/subscriptions/sub_1"),
          ("DELETE", "/v1/subscriptions/sub_1"), ("POST", "/v1/subscriptions/sub_1/rotate"),
          ("GET", "/v1/deliveries"), ("POST", "/v1/deliveries/replay")]


def client(admin_key: str | None) -> httpx.AsyncClient:
    settings = DeliverSettings(admin_key=admin_key, mongodb_uri="mongodb://127.0.0.1:1",
                               redis_url="redis://127.0.0.1:1/0", log_json=True)
    # ASGITransport runs no lifespan: nothing connects.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)),
                             base_url="http://publish")


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_without_a_configured_key_the_admin_api_is_off(method: str, path: str) -> None:
    response = await client(None).request(method, path, headers={"Authorization": "Bearer x"})
    assert response.status_code == 503
    assert "NEWSFLOW_ADMIN_KEY" in response.json()["error"]["message"]


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {KEY}", KEY, "Bearer "])
async def test_a_missing_or_wrong_key_is_refused(header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await client(KEY).post("/v1/subscriptions", headers=headers,
                                json={"url": "https://example.com/hook"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("header", "says"), [
    (None, "no Authorization header"), ("   ", "no Authorization header"),
    (f"Basic {KEY}", "not a bearer token"), (KEY, "not a bearer token"),
    ("Bearer", "not a bearer token"), ("Bearer    ", "not a bearer token"),
    ("Bearer wrong", "admin key is not valid"), (f"Bearer {KEY}x", "admin key is not valid"),
    ("Bearer k\u00e9y", "admin key is not valid"),
])
async def test_the_401_says_what_is_wrong_with_the_authorization(header: str | None,
                                                                 says: str) -> None:
    headers = {"Authorization": header.encode("latin-1")} if header is not None else {}
    response = await client(KEY).get("/v1/subscriptions", headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert says in error["message"] and error["field"] == "authorization"


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "http://10.0.0.1/hook"}, "url"),
    ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
    ({"url": "ftp://example.com/hook"}, "url"),
    ({}, "url"),
    ({"url": "https://example.com/hook", "filters": {"topics": ["sport"]}}, "filters.topics"),
    ({"url": "https://example.com/hook", "filters": {"urgency": 10}}, "filters.urgency"),
    ({"url": "https://example.com/hook", "filters": {"event_types": ["x"]}},
     "filters.event_types"),
    ({"url": "https://example.com/hook", "enabled": "maybe"}, "enabled"),
    ({"url": "https://example.com/hook", "description": "x" * 501}, "description"),
    ({"url": "https://example.com/hook", "colour": "red"}, "colour"),
])
async def test_bad_subscriptions_get_422_naming_the_field(body: dict[str, Any], field: str) -> None:
    response = await client(KEY).post("/v1/subscriptions", json=body,
                                headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["code"] == "invalid" and error["message"]


async def test_a_body_that_is_not_json_is_a_422_not_a_500() -> None:
    response = await client(KEY).post("/v1/subscriptions", content=b"{not json",
                                headers={"Authorization": f"Bearer {KEY}",
                                         "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body"
