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


async def test_a_version_is_taken_once_per_source(aredis: Redis, prefix: str) -> None:
    intake = Intake(aredis, stream=prefix + "ingested", namespace=prefix)
    assert await statuses(intake, _story(), _story(version=2)) == ["accepted", "accepted"]
    assert await statuses(intake, _story(), _story(provider="afp")) == ["duplicate", "accepted"]
    assert await aredis.xlen(prefix + "ingested") == 3


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

