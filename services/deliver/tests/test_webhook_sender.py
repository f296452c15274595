"""One webhook attempt against a raw loopback server: the status line decides the outcome."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.egress import EgressPolicy

from deliver.queue import Delivery
from deliver.registry import Subscription
from deliver.sender import Attempt, WebhookSender
from deliver.signing import new_secret
from deliver.store import SubscriptionRecord

RECORD = SubscriptionRecord(
    id="sub_1", url="", filters={}, enabled=True, description="", secret=new_secret(),
    previous_secret=None, previous_secret_expires_ms=0, created_ms=0, updated_ms=0,
    disabled_reason=None)
DELIVERY = Delivery(id="sub_1_evt", subscription="sub_1", type="article.published",
                    event_id="evt", entry_id="1-0", uri="urn:x", published_ms=0, body=b"{}")


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
    sender = started(EgressPolicy(["127.0.0.1"]), read_timeout_s=0.2)
    subscription = subscribed(f"http://127.0.0.1:{port}/")
    try:
        await sender.start()
        return await sender.send(subscription, DELIVERY)
    finally:
        await sender.close()
        release.set()
        server.close()


def started(egress: EgressPolicy, read_timeout_s: float = 2.0) -> WebhookSender:
    return WebhookSender(egress, connect_timeout_s=1, read_timeout_s=read_timeout_s,
                         connections=16, connections_per_host=4)


def subscribed(url: str) -> Subscription:
    return Subscription.of(dataclasses.replace(RECORD, url=url))


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[str], list[bytes]]]:
    """A keep-alive HTTP/1.1 receiver: its URL, one entry per TCP connection, the bodies."""
    connections: list[str] = []
    bodies: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(str(writer.get_extra_info("peername")))
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                bodies.append(await reader.readexactly(length))
                answer = b"accepted, thank you"
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s"
                             % (len(answer), answer))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook", connections, bodies
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


async def test_deliveries_reuse_one_connection_and_read_the_answer(
        receiver: tuple[str, list[str], list[bytes]]) -> None:
    url, connections, bodies = receiver
    sender = started(EgressPolicy(["127.0.0.1"]))
    await sender.start()
    try:
        results = [await sender.send(subscribed(url), DELIVERY) for _ in range(50)]
    finally:
        await sender.close()
    assert [r.outcome for r in results] == ["delivered"] * 50
    assert len(bodies) == 50
    assert len(connections) == 1


def dns(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]
    return resolve


async def test_a_name_that_now_resolves_to_loopback_is_refused_before_connecting(
        receiver: tuple[str, list[str], list[bytes]]) -> None:
    url, connections, _ = receiver
    port = url.split(":")[2].split("/")[0]
    sender = started(EgressPolicy([], dns({"hooks.example": ["127.0.0.1"]})))
    await sender.start()
    try:
        by_name = await sender.send(subscribed(f"http://hooks.example:{port}/hook"), DELIVERY)
        by_literal = await sender.send(subscribed(url), DELIVERY)
        mapped = await sender.send(subscribed(f"http://[::ffff:127.0.0.1]:{port}/"), DELIVERY)
    finally:
        await sender.close()
    assert [by_name.outcome, by_literal.outcome, mapped.outcome] == ["refused"] * 3
    assert "loopback" in (by_name.error or "")
    assert connections == []


async def test_an_allowed_name_connects_to_the_address_the_policy_resolved(
        receiver: tuple[str, list[str], list[bytes]]) -> None:
    url, connections, _ = receiver
    port = url.split(":")[2].split("/")[0]
    # The name resolves (for the system) nowhere; only the policy's resolver knows it.
    sender = started(EgressPolicy(["hooks.internal"], dns({"hooks.internal": ["127.0.0.1"]})))
    await sender.start()
    try:
        result = await sender.send(subscribed(f"http://hooks.internal:{port}/hook"), DELIVERY)
    finally:
        await sender.close()
    assert result.outcome == "delivered"
    assert len(connections) == 1


async def test_a_redirect_is_not_followed(stalls: list[asyncio.Event]) -> None:
    result = await attempt(stalls, b"HTTP/1.1 302 Found\r\nlocation: http://10.0.0.1/\r\n"
                                   b"content-length: 0\r\n\r\n")
    assert (result.outcome, result.status) == ("http_error", 302)
    assert "not followed" in (result.error or "")


async def test_a_cookie_set_by_one_receiver_is_never_sent_back() -> None:
    """Several subscriptions may share a host: what one of them sets must not reach another
    (nor come back to it)."""
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head.lower())
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 204 No Content\r\n"
                             b"set-cookie: session=abc; Path=/\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    # A name, not an IP literal: cookie jars commonly ignore cookies of IP hosts.
    base = f"http://hooks.internal:{server.sockets[0].getsockname()[1]}"
    sender = started(EgressPolicy(["hooks.internal"], dns({"hooks.internal": ["127.0.0.1"]})))
    await sender.start()
    try:
        results = [await sender.send(subscribed(f"{base}/hook/{n % 2}"), DELIVERY)
                   for n in range(4)]
    finally:
        await sender.close()
        server.close()
    assert [r.outcome for r in results] == ["delivered"] * 4
    assert len(heads) == 4
    assert not [head for head in heads if b"\r\ncookie:" in head]


async def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_deadline(
        stalls: list[asyncio.Event]) -> None:
    """Each byte comes within the read timeout, but the whole answer never does: the attempt
    ends at its deadline (connect + read timeouts + 1 s), before its lease could run out."""
    release = asyncio.Event()
    stalls.append(release)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nx-slow: ")
        while not release.is_set():  # one header, a byte at a time
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    # The read timeout is ten times the trickle's pace, so that a loaded machine's late wake-up
    # of the receiver does not end the attempt by the read timeout instead.
    sender = WebhookSender(EgressPolicy(["127.0.0.1"]), connect_timeout_s=0.1,
                           read_timeout_s=0.5, connections=4, connections_per_host=1)
    await sender.start()
    try:
        port = server.sockets[0].getsockname()[1]
        result = await sender.send(subscribed(f"http://127.0.0.1:{port}/"), DELIVERY)
    finally:
        await sender.close()
        release.set()
        server.close()
    assert result.outcome == "timeout" and result.status is None
    assert result.duration_ms >= 1500  # the deadline (1.6 s), not the read timeout, ended it


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A receiver's TLS context: a self-signed certificate for hooks.internal, which the
    sender's default (verifying) context is made to trust."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl makes the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-keyout", str(key),
                    "-out", str(cert), "-subj", "/CN=hooks.internal",
                    "-addext", "subjectAltName=DNS:hooks.internal"],
                   check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


async def test_https_checks_the_certificate_against_the_urls_host_at_the_checked_address(
        tls: ssl.SSLContext) -> None:
    """Connected to 127.0.0.1 (what the policy resolved), the certificate is still checked
    against the URL's host: hooks.internal passes, another name for the same address fails."""
    bodies: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            bodies.append(await reader.readexactly(length))
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    names = {"hooks.internal": ["127.0.0.1"], "other.internal": ["127.0.0.1"]}
    sender = started(EgressPolicy(list(names), dns(names)))
    await sender.start()
    try:
        good = await sender.send(subscribed(f"https://hooks.internal:{port}/hook"), DELIVERY)
        bad = await sender.send(subscribed(f"https://other.internal:{port}/hook"), DELIVERY)
    finally:
        await sender.close()
        server.close()
    assert (good.outcome, good.status) == ("delivered", 204)
    assert bad.outcome == "network_error" and "certificate" in (bad.error or "")
    assert bodies == [b"{}"]
