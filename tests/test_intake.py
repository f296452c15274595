"""Idempotent intake on the real Redis: what counts as the same story."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from shared.article import Article, Source

from ingest.intake import Intake

pytestmark = pytest.mark.integration


def _story(provider: str = "dpa", version: int | None = 1, **extra: object) -> Article:
    fields: dict[str, object] = {"uri": "urn:t:1", "version": version,
                                 "source": Source(provider=provider, format="json"),
                                 "headlines": [{"value": "Bridge reopens"}],
                                 "bodies": [{"value": "Traffic flows again."}]}
    fields.update(extra)
    return Article.model_validate(fields)


async def statuses(intake: Intake, *articles: Article) -> list[str]:
    return [r.status for r in await intake.submit(list(articles))]


async def test_a_version_is_taken_once(aredis: Redis, prefix: str) -> None:
    intake = Intake(aredis, stream=prefix + "ingested", namespace=prefix)
    assert await statuses(intake, _story(), _story(version=2)) == ["accepted", "accepted"]
    assert await statuses(intake, _story(), _story(version=2)) == ["duplicate", "duplicate"]
    assert await aredis.xlen(prefix + "ingested") == 2


async def test_a_story_belongs_to_the_source_that_first_sent_it(
        aredis: Redis, prefix: str) -> None:
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
        aredis: Redis, prefix: str) -> None:
    intake = Intake(aredis, stream=prefix + "ingested", namespace=prefix,
                    shared_namespaces={"dpa": ["dpa", "dpa-sport"]})
    assert await statuses(intake, _story(version=1),
                          _story(provider="dpa-sport", version=2),
                          _story(provider="afp", version=3)) == [
        "accepted", "accepted", "forbidden"]
    entries = await aredis.xrange(prefix + "ingested")
    assert b'"namespace":"dpa"' in entries[1][1][b"data"]


async def test_a_version_far_above_the_chain_cannot_squat_a_uri(
        aredis: Redis, prefix: str) -> None:
    intake = Intake(aredis, stream=prefix + "ingested", namespace=prefix,
                    max_version_jump=1000)
    [squat] = await intake.submit([_story(provider="afp", version=2**62 - 1)])
    assert squat.status == "refused" and squat.error is not None
    assert (squat.error.status, squat.error.field) == (422, "version")
    assert await statuses(intake, _story(version=1000), _story(version=2000),
                          _story(version=3001)) == ["accepted", "accepted", "refused"]
    assert await aredis.xlen(prefix + "ingested") == 2


async def test_two_sources_racing_for_a_new_uri_cannot_both_own_it(
        redis_url: str, aredis: Redis, prefix: str) -> None:
    replicas = [Redis.from_url(redis_url) for _ in range(2)]
    try:
        intakes = [Intake(r, stream=prefix + "ingested", namespace=prefix) for r in replicas]
        for round_ in range(20):
            stories = [_story(provider=p, version=1, uri=f"urn:race:{round_}")
                       for p in ("dpa", "afp")]
            answers = await asyncio.gather(*(statuses(i, s)
                                             for i, s in zip(intakes, stories, strict=True)))
            assert sorted(a for [a] in answers) == ["accepted", "forbidden"]
        assert await aredis.xlen(prefix + "ingested") == 20
    finally:
        for client in replicas:
            await client.aclose()


async def test_without_a_version_the_content_and_its_embargo_decide(
        aredis: Redis, prefix: str) -> None:
    intake = Intake(aredis, stream=prefix + "ingested", namespace=prefix)
    embargo = datetime.now(UTC) + timedelta(hours=2)
    held = _story(version=None, embargoedUntil=embargo)
    assert await statuses(intake, held, held) == ["accepted", "duplicate"]  # one batch
    moved = _story(version=None, embargoedUntil=embargo + timedelta(hours=1))
    lifted = _story(version=None)
    assert await statuses(intake, moved, lifted, held) == ["accepted", "accepted", "duplicate"]


async def test_two_replicas_given_the_same_story_at_once_append_it_once(
        redis_url: str, aredis: Redis, prefix: str) -> None:
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

