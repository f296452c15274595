"""Feed polling against a real HTTP server on loopback and the real Redis."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from redis.asyncio import Redis

from shared.egress import EgressPolicy, EgressRefused

from ingest.intake import Intake
from ingest.polling import MAX_REDIRECTS, FeedConfig, FeedPoller, _retry_delay

pytestmark = pytest.mark.integration

LOOPBACK = EgressPolicy(["127.0.0.1"])  # the test publisher's own address, and nothing else

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Harbour news</title><link>https://example.org/</link>
<description>Local news</description>
{items}
</channel></rss>"""
ITEM = """<item><title>{title}</title><link>https://example.org/{n}</link>
<guid>https://example.org/{n}</guid><pubDate>Tue, 02 Jun 2026 10:0{n}:00 +0200</pubDate>
<description>Story number {n} about the harbour and the city council.</description></item>"""


class Feed:
    """What the fake publisher serves, and what it was asked."""

    def __init__(self) -> None:
        self.items = [ITEM.format(n=n, title=f"Story {n}") for n in range(2)]
        self.etag = '"v1"'
        self.requests: list[dict[str, str]] = []
        self.fail_next = 0
        self.redirect_to: str | None = None


@pytest.fixture
def feed_server() -> Iterator[tuple[Feed, str]]:
    feed = Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            feed.requests.append(dict(self.headers))
            if feed.redirect_to:
                self.send_response(302)
                self.send_header("Location", feed.redirect_to)
                self.end_headers()
                return
            if feed.fail_next:
                feed.fail_next -= 1
                self.send_response(503)
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == feed.etag:
                self.send_response(304)
                self.end_headers()
                return
            body = RSS.format(items="\n".join(feed.items)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", feed.etag)
            self.send_header("Last-Modified", formatdate(usegmt=True))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield feed, f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()


async def test_polls_are_conditional_and_entries_are_queued_once(
        aredis: Redis, prefix: str, feed_server: tuple[Feed, str]) -> None:
    feed, url = feed_server
    intake = Intake(aredis, stream=prefix + "news.ingested", namespace=prefix)
    poller = FeedPoller([{"url": url, "source": "harbour"}], intake, aredis, namespace=prefix,
                        egress=LOOPBACK)
    config = poller.feeds[0]

    first = await poller.poll(config)
    assert (first.status, first.accepted) == (200, 2)
    second = await poller.poll(config)
    assert second.status == 304
    assert feed.requests[-1].get("If-None-Match") == '"v1"'

    feed.items.append(ITEM.format(n=2, title="Story 2"))
    feed.etag = '"v2"'
    third = await poller.poll(config)
    assert (third.accepted, third.duplicates) == (1, 2)  # earlier entries are not queued again
    assert await aredis.xlen(prefix + "news.ingested") == 3


async def test_a_restarted_poller_remembers_the_etag(
        aredis: Redis, prefix: str, feed_server: tuple[Feed, str]) -> None:
    _, url = feed_server
    intake = Intake(aredis, stream=prefix + "news.ingested", namespace=prefix)
    await FeedPoller([{"url": url, "source": "s"}], intake, aredis, namespace=prefix,
                        egress=LOOPBACK).poll(
        FeedConfig(url=url, source="s"))
    restarted = FeedPoller([{"url": url, "source": "s"}], intake, aredis, namespace=prefix,
                        egress=LOOPBACK)
    assert (await restarted.poll(restarted.feeds[0])).status == 304


async def test_a_failing_feed_raises_for_the_backoff_loop_and_recovers(
        aredis: Redis, prefix: str, feed_server: tuple[Feed, str]) -> None:
    import httpx

    feed, url = feed_server
    feed.fail_next = 1
    intake = Intake(aredis, stream=prefix + "news.ingested", namespace=prefix)
    poller = FeedPoller([{"url": url, "source": "s"}], intake, aredis, namespace=prefix,
                        egress=LOOPBACK)
    with pytest.raises(httpx.HTTPStatusError):
        await poller.poll(poller.feeds[0])
    assert (await poller.poll(poller.feeds[0])).accepted == 2


def test_a_feed_config_names_the_wrong_field() -> None:
    with pytest.raises(ValueError, match="url"):
        FeedConfig.model_validate({"url": "not a url", "source": "x"})


@pytest.mark.parametrize("failures", [1, 2, 5])
def test_a_feed_that_answers_an_error_is_not_pressed_harder_than_its_interval(
        failures: int) -> None:
    import httpx

    feed = FeedConfig.model_validate({"url": "https://example.org/feed", "source": "s",
                                      "interval_s": 300})
    request = httpx.Request("GET", "https://example.org/feed")

    def status(code: int, **headers: str) -> httpx.HTTPStatusError:
        return httpx.HTTPStatusError("", request=request,
                                     response=httpx.Response(code, headers=headers))

    for _ in range(50):
        assert _retry_delay(feed, failures, status(503)) >= 150
        assert _retry_delay(feed, failures, status(429, **{"Retry-After": "2000"})) >= 2000
        assert _retry_delay(feed, 1, httpx.ConnectError("refused")) <= 10  # soon, jittered


@pytest.fixture
def private_service() -> Iterator[tuple[list[str], int]]:
    """A loopback-only service with text nobody outside may read; notes who asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = RSS.format(items=ITEM.format(n=9, title="Internal salaries")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield asked, server.server_address[1]
    server.shutdown()


@pytest.mark.parametrize("host", ["localhost", "[::ffff:127.0.0.1]", "[2002:7f00:1::1]"])
async def test_a_redirect_to_a_loopback_service_is_refused_and_nothing_is_queued(
        aredis: Redis, prefix: str, feed_server: tuple[Feed, str],
        private_service: tuple[list[str], int], host: str) -> None:
    feed, url = feed_server
    asked, port = private_service
    feed.redirect_to = f"http://{host}:{port}/private.xml"
    intake = Intake(aredis, stream=prefix + "news.ingested", namespace=prefix)
    poller = FeedPoller([{"url": url, "source": "s"}], intake, aredis, namespace=prefix,
                        egress=LOOPBACK)
    with pytest.raises(EgressRefused):
        await poller.poll(poller.feeds[0])
    assert asked == []
    assert await aredis.xlen(prefix + "news.ingested") == 0


async def test_redirects_are_followed_through_the_policy_and_capped(
        aredis: Redis, prefix: str, feed_server: tuple[Feed, str]) -> None:
    feed, url = feed_server
    intake = Intake(aredis, stream=prefix + "news.ingested", namespace=prefix)
    poller = FeedPoller([{"url": url, "source": "s"}], intake, aredis, namespace=prefix,
                        egress=LOOPBACK)
    feed.redirect_to = url  # a loop
    with pytest.raises(EgressRefused, match="redirects"):
        await poller.poll(poller.feeds[0])
    assert len(feed.requests) == MAX_REDIRECTS + 1
    feed.redirect_to = None
    assert (await poller.poll(poller.feeds[0])).accepted == 2


async def test_a_loopback_feed_is_refused_unless_allowed(
        aredis: Redis, prefix: str, feed_server: tuple[Feed, str]) -> None:
    feed, url = feed_server
    intake = Intake(aredis, stream=prefix + "news.ingested", namespace=prefix)
    poller = FeedPoller([{"url": url, "source": "s"}], intake, aredis, namespace=prefix)
    with pytest.raises(EgressRefused, match="NEWSFLOW_FEED_ALLOW_HOSTS"):
        await poller.poll(poller.feeds[0])
    assert feed.requests == []
