"""One webhook attempt against a raw loopback server: the status line decides the outcome."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from publish.delivery import Attempt, WebhookSender
from publish.egress import EgressPolicy
from publish.queue import Delivery
from publish.registry import Subscription
from publish.signing import new_secret
from publish.store import SubscriptionRecord

RECORD = SubscriptionRecord(
    id="sub_1", url="", filters={}, enabled=True, description="", secret=new_secret(),
    previous_secret=None, previous_secret_expires_ms=0, created_ms=0, updated_ms=0,
    disabled_reason=None)
DELIVERY = Delivery(id="sub_1_evt", subscription="sub_1", type="article.published",
                    event_id="evt", entry_id="1-0", uri="urn:x", published_ms=0, body="{}")


@pytest.fixture
async def stalls() -> AsyncIterator[list[asyncio.Event]]:
    """Servers started by ``attempt`` send a head and part of the body, then never finish."""
    events: list[asyncio.Event] = []
    yield events
    for event in events:
        event.set()


async def attempt(stalls: list[asyncio.Event], head: bytes, part: bytes = b"") -> Attempt:
    release = asyncio.Event()
    stalls.append(release)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head + part)
        await writer.drain()
        await release.wait()  # the rest of the announced body never comes
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = WebhookSender(EgressPolicy(["127.0.0.1"]), connect_timeout_s=1,
                           read_timeout_s=0.2)
    subscription = Subscription.of(dataclasses.replace(RECORD, url=f"http://127.0.0.1:{port}/"))
    try:
        async with sender.client(1) as client:
            return await sender.send(client, subscription, DELIVERY)
    finally:
        release.set()
        server.close()


async def test_a_2xx_whose_body_never_ends_is_delivered_not_a_timeout(
        stalls: list[asyncio.Event]) -> None:
    result = await attempt(stalls, b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n", b"ok")
    assert (result.outcome, result.status) == ("delivered", 200)


async def test_a_410_whose_body_never_ends_still_disables(stalls: list[asyncio.Event]) -> None:
    result = await attempt(stalls, b"HTTP/1.1 410 Gone\r\ncontent-length: 1000\r\n\r\n")
    assert (result.outcome, result.status) == ("gone", 410)


async def test_a_503_keeps_its_retry_after_and_the_body_that_arrived(
        stalls: list[asyncio.Event]) -> None:
    result = await attempt(
        stalls, b"HTTP/1.1 503 Busy\r\nretry-after: 120\r\ncontent-length: 1000\r\n\r\n",
        b"come back later")
    assert (result.outcome, result.status, result.retry_after) == ("http_error", 503, 120)
    assert result.error == "come back later"


async def test_no_answer_at_all_is_a_timeout(stalls: list[asyncio.Event]) -> None:
    result = await attempt(stalls, b"")
    assert result.outcome == "timeout" and result.status is None
