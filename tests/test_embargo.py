"""The embargo hold on the real Redis: held until its time, released durably, cancelled by kills."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from shared.article import Article, Source
from shared.events import ArticleEnriched, Event

from publish.embargo import EmbargoSchedule

pytestmark = pytest.mark.integration


def _held(uri: str, until: datetime) -> tuple[Event, Article]:
    article = Article(uri=uri, version=1, embargoed_until=until,
                      source=Source(provider="t", format="json"), headlines=[{"value": "H"}])
    return ArticleEnriched.for_article(article, "test"), article


async def test_a_held_story_is_released_after_its_time_even_by_a_new_process(
        aredis: Redis, prefix: str) -> None:
    until = datetime.now(UTC) + timedelta(hours=1)
    event, article = _held("urn:e:1", until)
    first = EmbargoSchedule(aredis, namespace=prefix, release_to=prefix + "enriched")
    assert first.holds(article)
    await first.hold(event, article)
    assert await first.release_due() == 0  # not yet

    restarted = EmbargoSchedule(aredis, namespace=prefix, release_to=prefix + "enriched")
    later = int((until + timedelta(seconds=1)).timestamp() * 1000)
    assert await restarted.release_due(now_ms=later) == 1

    [(_, fields)] = await aredis.xrange(prefix + "enriched")
    assert Event.from_fields(fields).id == event.id
    assert await restarted.pending() == 0


async def test_a_kill_cancels_the_pending_release(aredis: Redis, prefix: str) -> None:
    until = datetime.now(UTC) + timedelta(hours=1)
    schedule = EmbargoSchedule(aredis, namespace=prefix, release_to=prefix + "enriched")
    versions = [_held("urn:e:2", until)[1].model_copy(update={"version": v}) for v in (1, 2)]
    await asyncio.gather(*(  # held at once, as one batch does
        schedule.hold(ArticleEnriched.for_article(a, "test"), a) for a in versions))
    assert await schedule.cancel("urn:e:2", "another-source") == 0  # not its story
    assert await schedule.pending() == 2
    assert await schedule.cancel("urn:e:2", "t") == 2
    assert await schedule.pending() == 0
    far = int((until + timedelta(days=1)).timestamp() * 1000)
    assert await schedule.release_due(now_ms=far) == 0
    assert await aredis.xlen(prefix + "enriched") == 0


def test_only_a_usable_story_with_a_future_embargo_is_held() -> None:
    now = datetime.now(UTC)
    _, past = _held("urn:e:3", now - timedelta(minutes=1))
    _, future = _held("urn:e:3", now + timedelta(minutes=1))
    killed = future.model_copy(update={"pub_status": "canceled"})
    assert not EmbargoSchedule.holds(past)
    assert EmbargoSchedule.holds(future)
    assert not EmbargoSchedule.holds(killed)
