"""Server-Sent Events end to end: publish as a process, a real HTTP client reading the stream."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
import redis

from shared.article import Article, PubStatus, Source, Subject
from shared.events import ENRICHED_STREAM, PUBLISHED_STREAM, ArticleEnriched

from newsflow_cli.platform import Platform

pytestmark = pytest.mark.e2e

TOPIC = "medtop:04000000"
OTHER_TOPIC = "medtop:15000000"


@pytest.fixture(scope="module")
def plat(tmp_path_factory: pytest.TempPathFactory, redis_url: str, mongodb_uri: str,
         isolated_platform: Callable[..., AbstractContextManager[Platform]]
         ) -> Iterator[Platform]:
    with isolated_platform(tmp_path_factory.mktemp("sse"), redis_url, mongodb_uri,
                           services=("publish",), NEWSFLOW_SSE_HEARTBEAT_S="0.3",
                           NEWSFLOW_BLOCK_MS="100") as platform:
        yield platform

def push(plat: Platform, uri: str, provider: str, *, topic: str = TOPIC, urgency: int = 3,
         killed: bool = False) -> None:
    if killed:
        article = Article(uri=uri, version=2, pub_status=PubStatus.canceled,
                          source=Source(provider=provider, format="json"))
    else:
        article = Article(uri=uri, version=1, source=Source(provider=provider, format="json"),
                          headlines=[{"value": uri}], bodies=[{"value": "Text."}],
                          language="en", urgency=urgency, version_created=datetime.now(UTC),
                          subjects=[Subject(code=topic)])
    event = ArticleEnriched.for_article(article, "test")
    redis.Redis.from_url(plat.redis_url).xadd(plat.stream_prefix + ENRICHED_STREAM,
                                              event.to_fields())


class SSE:
    """A streaming client that parses messages and comments as they arrive."""

    def __init__(self, plat: Platform, params: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        self.client = httpx.Client(base_url=plat.url("publish"),
                                   timeout=httpx.Timeout(5.0, read=5.0))
        self.cm = self.client.stream("GET", "/v1/stream", params=params, headers=headers or {})
        self.response = self.cm.__enter__()
        self.lines = self.response.iter_lines()

    def next(self) -> dict[str, str]:
        """The next message or comment (``{"comment": ...}``)."""
        message: dict[str, str] = {}
        for line in self.lines:
            if line == "":
                if message:
                    return message
                continue
            if line.startswith(":"):
                return {"comment": line[1:].strip()}
            name, _, value = line.partition(":")
            message[name] = value.removeprefix(" ")
        raise AssertionError("stream ended")

    def events(self, count: int) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        while len(out) < count:
            message = self.next()
            if "data" in message:
                out.append(message)
        return out

    def ready(self) -> SSE:
        assert self.response.status_code == 200
        assert self.response.headers["content-type"].startswith("text/event-stream")
        assert "retry" in self.next()  # the first bytes: from here on it is live
        return self

    def close(self) -> None:
        self.cm.__exit__(None, None, None)
        self.client.close()


def uris(events: list[dict[str, str]]) -> list[str]:
    return [orjson.loads(e["data"])["subject"] for e in events]


def read_three(plat: Platform) -> tuple[str, list[dict[str, str]]]:
    """A new source, three of its stories pushed and read live, and the client gone."""
    source = "sse-" + secrets.token_hex(4)
    first = SSE(plat, {"sources": source}).ready()
    for n in range(3):
        push(plat, f"urn:sse:{source}:{n}", source)
    got = first.events(3)
    first.close()
    return source, got


def test_resume_after_a_disconnect_loses_and_repeats_nothing(plat: Platform) -> None:
    source, got = read_three(plat)
    assert uris(got) == [f"urn:sse:{source}:{n}" for n in range(3)]
    assert all(e["event"] == "news.article.published" for e in got)

    for n in range(3, 6):  # published while the client is away
        push(plat, f"urn:sse:{source}:{n}", source)
    time.sleep(0.3)
    second = SSE(plat, {"sources": source}, headers={"Last-Event-ID": got[-1]["id"]})
    try:
        for n in range(6, 9):  # published while it catches up and after
            push(plat, f"urn:sse:{source}:{n}", source)
        resumed = second.events(6)
    finally:
        second.close()
    assert uris(resumed) == [f"urn:sse:{source}:{n}" for n in range(3, 9)]
    ids = [tuple(map(int, e["id"].split("-"))) for e in got + resumed]
    assert ids == sorted(set(ids))  # increasing: no repeats, stream entry ids

    third = SSE(plat, {"sources": source, "last_event_id": got[0]["id"]})
    try:
        assert uris(third.events(8)) == [f"urn:sse:{source}:{n}" for n in range(1, 9)]
    finally:
        third.close()


def test_a_client_joining_a_quiet_hub_gets_what_follows_its_first_byte(plat: Platform) -> None:
    # With nobody connected publish reads nothing of news.published; the first client
    # to come back starts it again, live from the moment it got its first byte.
    source, _ = read_three(plat)
    push(plat, f"urn:sse:{source}:unheard", source)
    time.sleep(0.3)
    stream = SSE(plat, {"sources": source}).ready()
    try:
        push(plat, f"urn:sse:{source}:heard", source)
        assert uris(stream.events(1)) == [f"urn:sse:{source}:heard"]
    finally:
        stream.close()


def test_filters_kills_and_heartbeats(plat: Platform) -> None:
    source = "sse-" + secrets.token_hex(4)
    stream = SSE(plat, {"sources": source, "topics": OTHER_TOPIC, "urgency": 2}).ready()
    try:
        push(plat, f"urn:sse:{source}:off-topic", source, topic=TOPIC, urgency=1)
        push(plat, f"urn:sse:{source}:not-urgent", source, topic=OTHER_TOPIC, urgency=5)
        push(plat, f"urn:sse:{source}:wanted", source, topic=OTHER_TOPIC, urgency=2)
        push(plat, f"urn:sse:{source}:off-topic", source, killed=True)
        got = stream.events(2)
        assert uris(got) == [f"urn:sse:{source}:wanted", f"urn:sse:{source}:off-topic"]
        assert [e["event"] for e in got] == ["news.article.published", "news.article.killed"]
        started = time.monotonic()
        assert stream.next() == {"comment": "keep-alive"}  # idle: heartbeats keep it open
        assert time.monotonic() - started < 1.5
    finally:
        stream.close()


def test_bad_parameters_are_named(plat: Platform) -> None:
    base = plat.url("publish")
    response = httpx.get(f"{base}/v1/stream", params={"topics": "sport"}, timeout=5)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "topics"
    for bad in ("yesterday", "99999999999999999999-0"):  # the second is beyond Redis' 64 bits
        response = httpx.get(f"{base}/v1/stream", headers={"Last-Event-ID": bad}, timeout=5)
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "last_event_id"


@pytest.mark.parametrize("bad", [
    "9" * 5000,  # past int()'s 4,300-digit limit
    "9" * 5000 + "-0",
    "1700000000000-" + "9" * 5000,
    "18446744073709551616-0",  # 2**64
    "1700000000000-18446744073709551616",
    "18446744073709551615-18446744073709551615",  # the last id: nothing can follow it
    "1-2-3", "-1", "1-", "1700000000000-0 1", "\u0661\u0662\u0663-0",  # Arabic-Indic digits
])
@pytest.mark.parametrize("where", ["header", "query"])
def test_a_resume_id_that_is_not_a_stream_id_is_a_400_naming_it(plat: Platform, bad: str,
                                                                where: str) -> None:
    url = f"{plat.url('publish')}/v1/stream"
    if where == "header":
        # Raw bytes: httpx refuses some of these as header values, a client on the wire need not.
        response = httpx.get(url, headers=[(b"Last-Event-ID", bad.encode())], timeout=5)
    else:
        response = httpx.get(url, params={"last_event_id": bad}, timeout=5)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "last_event_id"


def test_resuming_from_a_trimmed_id_is_told_of_the_gap(plat: Platform) -> None:
    source, got = read_three(plat)
    # Retention trims the stream: the client's entry and the next one are gone.
    redis.Redis.from_url(plat.redis_url).xtrim(plat.stream_prefix + PUBLISHED_STREAM,
                                               minid=got[2]["id"], approximate=False)
    resumed = SSE(plat, {"sources": source}, headers={"Last-Event-ID": got[0]["id"]})
    try:
        gap, story = resumed.events(2)
    finally:
        resumed.close()
    assert gap["event"] == "gap" and "id" not in gap
    notice = orjson.loads(gap["data"])
    assert notice["lastEventId"] == got[0]["id"]
    assert notice["oldestAvailableId"] == got[2]["id"]
    assert uris([story]) == [f"urn:sse:{source}:2"]

    after_kept = SSE(plat, {"sources": source}, headers={"Last-Event-ID": got[2]["id"]}).ready()
    try:  # resuming from an id still kept: no gap, straight to live entries
        push(plat, f"urn:sse:{source}:3", source)
        assert uris(after_kept.events(1)) == [f"urn:sse:{source}:3"]
    finally:
        after_kept.close()
