"""Idempotent intake on the real Redis: what counts as the same story."""

from __future__ import annotations

import asyncio
import gzip
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.article import Article, Source
from shared.events import INGESTED_STREAM

from ingest.app import create_app
from ingest.auth import hash_key
from ingest.intake import OWNER_PREFIX, Intake
from ingest.settings import IngestSettings
from newsflow_cli.platform import _wait_port, free_port

pytestmark = pytest.mark.integration


def _story(provider: str = "dpa", version: int | None = 1, **extra: object) -> Article:
    fields: dict[str, object] = {
        "uri": "urn:t:1",
        "version": version,
        "source": Source(provider=provider, format="json"),
        "headlines": [{"value": "Bridge reopens"}],
        "bodies": [{"value": "Traffic flows again."}],
    }
    fields.update(extra)
    return Article.model_validate(fields)


async def statuses(intake: Intake, *articles: Article) -> list[str]:
    return [r.status for r in await intake.submit(list(articles))]


async def test_a_version_is_taken_once(aredis: Redis, prefix: str) -> None:
    intake = Intake(aredis, stream=prefix + "ingested", namespace=prefix)
    assert await statuses(intake, _story(), _story(version=2)) == ["accepted", "accepted"]
    assert await statuses(intake, _story(), _story(version=2)) == ["duplicate", "duplicate"]
    assert await aredis.xlen(prefix + "ingested") == 2


async def test_a_story_belongs_to_the_source_that_first_sent_it(aredis: Redis, prefix: str) -> None:
    intake = Intake(aredis, stream=prefix + "ingested", namespace=prefix)
    assert await statuses(intake, _story(version=1)) == ["accepted"]
    kill = _story(provider="afp", version=None, pubStatus="canceled")
    [higher, killed] = await intake.submit([_story(provider="afp", version=2), kill])
    assert (higher.status, killed.status) == ("forbidden", "forbidden")
    assert higher.error is not None and higher.error.status == 403
    assert higher.error.field == "uri"
    assert await statuses(intake, _story(version=5)) == ["accepted"]  # the owner goes on
    assert await aredis.xlen(prefix + "ingested") == 2


async def test_sources_of_a_shared_namespace_continue_each_others_stories(
    aredis: Redis, prefix: str
) -> None:
    intake = Intake(
        aredis,
        stream=prefix + "ingested",
        namespace=prefix,
        shared_namespaces={"dpa": ["dpa", "dpa-sport"]},
    )
    assert await statuses(
        intake,
        _story(version=1),
        _story(provider="dpa-sport", version=2),
        _story(provider="afp", version=3),
    ) == ["accepted", "accepted", "forbidden"]
    entries = await aredis.xrange(prefix + "ingested")
    assert b'"namespace":"dpa"' in entries[1][1][b"data"]


async def test_a_version_far_above_the_chain_cannot_squat_a_uri(aredis: Redis, prefix: str) -> None:
    intake = Intake(aredis, stream=prefix + "ingested", namespace=prefix, max_version_jump=1000)
    [squat] = await intake.submit([_story(provider="afp", version=2**62 - 1)])
    assert squat.status == "refused" and squat.error is not None
    assert (squat.error.status, squat.error.field) == (422, "version")
    assert await statuses(
        intake, _story(version=1000), _story(version=2000), _story(version=3001)
    ) == ["accepted", "accepted", "refused"]
    assert await aredis.xlen(prefix + "ingested") == 2


async def test_two_sources_racing_for_a_new_uri_cannot_both_own_it(
    redis_url: str, aredis: Redis, prefix: str
) -> None:
    replicas = [Redis.from_url(redis_url) for _ in range(2)]
    try:
        intakes = [Intake(r, stream=prefix + "ingested", namespace=prefix) for r in replicas]
        for round_ in range(20):
            stories = [
                _story(provider=p, version=1, uri=f"urn:race:{round_}") for p in ("dpa", "afp")
            ]
            answers = await asyncio.gather(
                *(statuses(i, s) for i, s in zip(intakes, stories, strict=True))
            )
            assert sorted(a for [a] in answers) == ["accepted", "forbidden"]
        assert await aredis.xlen(prefix + "ingested") == 20
    finally:
        for client in replicas:
            await client.aclose()


async def test_without_a_version_the_content_and_its_embargo_decide(
    aredis: Redis, prefix: str
) -> None:
    intake = Intake(aredis, stream=prefix + "ingested", namespace=prefix)
    embargo = datetime.now(UTC) + timedelta(hours=2)
    held = _story(version=None, embargoedUntil=embargo)
    assert await statuses(intake, held, held) == ["accepted", "duplicate"]  # one batch
    moved = _story(version=None, embargoedUntil=embargo + timedelta(hours=1))
    lifted = _story(version=None)
    assert await statuses(intake, moved, lifted, held) == ["accepted", "accepted", "duplicate"]


async def test_two_replicas_given_the_same_story_at_once_append_it_once(
    redis_url: str, aredis: Redis, prefix: str
) -> None:
    replicas = [Redis.from_url(redis_url) for _ in range(2)]
    try:
        intakes = [Intake(r, stream=prefix + "ingested", namespace=prefix) for r in replicas]
        for round_ in range(20):
            story = _story(version=round_)
            answers = await asyncio.gather(*(statuses(i, story) for i in intakes))
            assert sorted(a for [a] in answers) == ["accepted", "duplicate"]
        assert await aredis.xlen(prefix + "ingested") == 20
    finally:
        for client in replicas:
            await client.aclose()


async def test_requests_sent_at_once_are_answered_each_from_its_own_stories(
    aredis: Redis, prefix: str
) -> None:
    """Their scripts travel to Redis together; an error reply fails its own request only."""
    intake = Intake(aredis, stream=prefix + "ingested", namespace=prefix)
    await aredis.set(prefix + OWNER_PREFIX + "urn:t:broken", "not a hash")  # HGET fails on it
    stories = [_story(uri=f"urn:t:{i}") for i in range(10)]
    answers = await asyncio.gather(
        *(statuses(intake, story) for story in stories),
        statuses(intake, _story(uri="urn:t:broken")),
        statuses(intake, stories[3], _story(uri="urn:t:10")),
        statuses(intake, _story(provider="afp", uri="urn:t:5", version=2)),
        return_exceptions=True,
    )
    assert answers[:10] == [["accepted"]] * 10
    assert isinstance(answers[10], ResponseError) and "WRONGTYPE" in str(answers[10])
    assert answers[11:] == [["duplicate", "accepted"], ["forbidden"]]
    assert await aredis.xlen(prefix + "ingested") == 11


KEY = "test-source-key"


def _ingest_app(redis_url: str, prefix: str) -> httpx.AsyncClient:
    settings = IngestSettings(
        redis_url=redis_url, stream_prefix=prefix, ingest_keys={"local": hash_key(KEY)}
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings)),
        base_url="http://ingest",
        headers={"Authorization": f"Bearer {KEY}"},
    )


class OwnRedis:
    """A redis-server of a test's own on a free port, to freeze, kill and start again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.servers: list[subprocess.Popen[bytes]] = []

    @property
    def server(self) -> subprocess.Popen[bytes]:
        return self.servers[-1]

    def start(self) -> None:
        server = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.servers.append(server)
        _wait_port(
            self.port, server, timeout=10, what="redis-server", log=self.workdir / "redis.log"
        )

    def stop(self) -> None:
        for server in self.servers:
            if server.poll() is None:
                server.send_signal(signal.SIGCONT)
                server.kill()
                server.wait(5)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    own = OwnRedis(tmp_path)
    own.start()
    yield own
    own.stop()


async def _timed_post(client: httpx.AsyncClient, body: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    async with asyncio.timeout(15):  # without a bound of its own, ingest would hang here
        response = await client.post(
            "/v1/articles", content=body, headers={"Content-Type": "text/plain"}
        )
    return response, time.monotonic() - started


async def test_a_frozen_or_dead_redis_gets_a_quick_503_and_ingest_recovers_by_itself(
    own_redis: OwnRedis, prefix: str
) -> None:
    async with _ingest_app(own_redis.url, prefix) as client:
        response, _ = await _timed_post(client, "Bridge reopens\n\nTraffic flows again.")
        assert response.status_code == 202, response.text
        own_redis.server.send_signal(signal.SIGSTOP)
        try:
            response, took = await _timed_post(client, "Storm nears\n\nThe coast braces.")
        finally:
            own_redis.server.send_signal(signal.SIGCONT)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"]
        assert took < 2.0, took
        print(f"frozen Redis: 503 in {took:.2f}s")
        # The timed-out append may have happened: the retry is answered once, never twice.
        retry, _ = await _timed_post(client, "Storm nears\n\nThe coast braces.")
        assert retry.status_code == 202, retry.text
        assert retry.json()["results"][0]["status"] in ("accepted", "duplicate")
        plain = Redis.from_url(own_redis.url)
        assert await plain.xlen(prefix + INGESTED_STREAM) == 2
        await plain.aclose()

        own_redis.server.kill()
        own_redis.server.wait(5)
        response, took = await _timed_post(client, "Harbour fire\n\nNobody was hurt.")
        assert response.status_code == 503 and took < 2.0, (response.text, took)
        print(f"dead Redis: 503 in {took:.2f}s")
        own_redis.start()
        again, _ = await _timed_post(client, "Harbour fire\n\nNobody was hurt.")
        assert again.status_code == 202, again.text
        assert again.json()["results"][0]["status"] == "accepted"


async def test_a_gzip_story_is_taken_and_a_gzip_bomb_refused_at_once(
    redis_url: str, aredis: Redis, prefix: str
) -> None:
    async with _ingest_app(redis_url, prefix) as client:
        story = gzip.compress(b"Bridge reopens\n\nTraffic flows again on the old bridge.")
        taken = await client.post(
            "/v1/articles", content=story, headers={"Content-Encoding": "gzip"}
        )
        assert taken.status_code == 202, taken.text
        bomb = gzip.compress(b"Bridge reopens\n\n" + b" " * 50_000_000, compresslevel=9)
        assert len(bomb) < 100_000
        refused = await client.post(
            "/v1/articles", content=bomb, headers={"Content-Encoding": "gzip"}
        )
        assert refused.status_code == 413, refused.text
        assert refused.json()["error"]["field"] == "body"
    assert await aredis.xlen(prefix + INGESTED_STREAM) == 1


async def test_hostile_values_never_split_a_log_line_and_ids_with_controls_are_refused(
    redis_url: str, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = '\r\n{"event": "article.ingested", "level": "info", "admin": true}\n'
    settings = IngestSettings(
        redis_url=redis_url,
        stream_prefix=prefix,
        log_json=True,
        ingest_keys={"local": hash_key(KEY)},
    )
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://i",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as client:
        capsys.readouterr()
        refused = await client.post(
            "/v1/articles",
            content=orjson.dumps({"uri": "urn:x:1" + forged, "headline": "Storm", "body": "Rain."}),
        )
        taken = await client.post(
            "/v1/articles",
            content=orjson.dumps(
                {
                    "uri": "urn:x:2",
                    "headline": "Storm" + forged,
                    "body": "Rain." + forged,
                    "version": "1" + forged,
                    "language": forged,
                }
            ),
        )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "uri"
    assert taken.status_code == 202, taken.text
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    events = [orjson.loads(line) for line in lines]  # every line is one whole JSON event
    assert [e["event"] for e in events].count("article.ingested") == 1
    assert not any(e.get("admin") for e in events)


def test_a_source_name_with_control_characters_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="control or bidi"):
        IngestSettings(ingest_keys={"dpa\r\nadmin": hash_key(KEY)})
    with pytest.raises(ValueError, match="control or bidi"):
        IngestSettings(
            ingest_keys={"dpa": hash_key(KEY)}, shared_namespaces={"dpa": ["dpa", "afp\u202e"]}
        )


async def test_the_documented_route_answers_as_the_fast_path_does(
    redis_url: str, prefix: str
) -> None:
    """Mounted under a prefix, POST /v1/articles is not taken by the fast path in front of
    FastAPI but by the route OpenAPI documents: the answers are the same."""
    settings = IngestSettings(
        redis_url=redis_url, stream_prefix=prefix, ingest_keys={"local": hash_key(KEY)}
    )
    app = create_app(settings)
    auth = {"Authorization": f"Bearer {KEY}"}
    cases = [
        ({"Authorization": "Bearer wrong"}, b'{"uri": "urn:r:1", "headline": "H", "body": "B"}'),
        (auth, b'{"uri": "urn:r:1", "version": 1}'),
        (auth, b'{"uri": "urn:r:1", "headline": "Storm", "body": "Rain.", "urgency": 12}'),
        (auth, b'{"uri": "urn:r:2", "headline": '),
        (auth, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ]
    statuses: set[int] = set()
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest"
        ) as direct,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, root_path="/ingest"),
            base_url="http://ingest/ingest",
        ) as mounted,
    ):
        for headers, body in cases:
            first = await direct.post("/v1/articles", content=body, headers=headers)
            again = await mounted.post("/v1/articles", content=body, headers=headers)
            assert again.status_code == first.status_code, (body, first.text, again.text)
            assert again.headers["content-type"] == first.headers["content-type"]
            expected = first.json()
            for result in expected.get("results", []):
                assert result["status"] == "accepted"
                result["status"] = "duplicate"  # the same story, a second time
            assert again.json() == expected
            statuses.add(first.status_code)
    assert 202 in statuses and len(statuses) >= 4  # taken, and refused in several ways
