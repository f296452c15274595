"""The operational snapshot read from a real Redis, on streams of this test's own prefix."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from redis.asyncio import Redis

from shared.article import Article, Source
from shared.events import INGESTED_STREAM, PUBLISHED_STREAM, ArticlePublished
from shared.ops import Keys, OpsReader, Snapshot, StageSnapshot
from shared.streams import ensure_group

pytestmark = pytest.mark.integration


def stage(snap: Snapshot, name: str) -> StageSnapshot:
    return next(s for s in snap.stages if s.name == name)


async def _backlog(aredis: Redis, prefix: str, n: int, read: int) -> list[str]:
    """n entries on news.ingested; a replica of enrich has read `read` of them, acked none."""
    stream = prefix + INGESTED_STREAM
    await ensure_group(aredis, stream, "enrich")
    ids = [(await aredis.xadd(stream, {"ce_id": str(i)})).decode() for i in range(n)]
    if read:
        await aredis.xreadgroup("enrich", "enrich-host-7", {stream: ">"}, count=read)
    return ids


async def test_lag_pending_replicas_and_dead_letters_with_their_reasons(
        aredis: Redis, prefix: str) -> None:
    await _backlog(aredis, prefix, 5, read=2)
    await aredis.xadd(prefix + INGESTED_STREAM + ".dlq", {
        "ce_subject": "urn:bad", "dlq_error": "EventDecodeError: data: missing field",
        "dlq_attempts": "1", "dlq_time_ms": str(int(time.time() * 1000))})

    snap = await OpsReader(aredis, prefix).snapshot()

    enrich = stage(snap, "enrich")
    assert (enrich.lag, enrich.pending, enrich.length) == (3, 2, 5)
    assert enrich.oldest_pending_age_s is not None and enrich.oldest_pending_age_s >= 0
    assert [(r.name, r.pending, r.consuming) for r in enrich.replicas] == [
        ("enrich-host-7", 2, True)]
    assert enrich.dead_letters == 1
    assert enrich.latest_dead[0].error == "EventDecodeError: data: missing field"
    assert enrich.latest_dead[0].subject == "urn:bad"
    assert enrich.status == "amber" and not enrich.stuck
    assert stage(snap, "ingest").through == 5
    assert stage(snap, "publish").lag is None  # no group yet
    assert snap.stuck == []


async def test_a_stage_whose_oldest_pending_entry_is_untouched_is_stuck(
        aredis: Redis, prefix: str) -> None:
    await _backlog(aredis, prefix, 3, read=3)
    reader = OpsReader(aredis, prefix, stuck_after_s=0.5)
    deadline = time.monotonic() + 10
    while not (snap := await reader.snapshot()).stuck:
        assert time.monotonic() < deadline, stage(snap, "enrich")
        await asyncio.sleep(0.1)
    assert snap.stuck == ["enrich"]
    enrich = stage(snap, "enrich")
    assert enrich.status == "red" and enrich.reasons[0].startswith("stuck")
    # Once the replica acknowledges its entries, nothing waits: not stuck.
    stream = prefix + INGESTED_STREAM
    pending = await aredis.xpending_range(stream, "enrich", "-", "+", 10)
    await aredis.xack(stream, "enrich", *[p["message_id"] for p in pending])
    assert (await reader.snapshot()).stuck == []


async def test_rates_come_from_samples_taken_over_time(aredis: Redis, prefix: str) -> None:
    stream = prefix + INGESTED_STREAM
    await _backlog(aredis, prefix, 1, read=0)
    reader = OpsReader(aredis, prefix)
    first = await reader.snapshot()
    assert stage(first, "ingest").rate_per_s is None  # one sample: no rate yet
    for i in range(20):
        await aredis.xadd(stream, {"ce_id": f"more-{i}"})
    await asyncio.sleep(0.3)  # the rate is entries over elapsed time: let some time pass
    await aredis.delete(Keys(prefix).sample_lock)  # as if the sampling interval had passed
    snap = await reader.snapshot()
    ingest = stage(snap, "ingest")
    assert ingest.rate_per_s is not None and ingest.rate_per_s > 0
    assert any(v for v in ingest.series)
    assert snap.history_s > 0


async def test_the_first_stories_into_a_stream_that_did_not_exist_show_as_a_rate(
        aredis: Redis, prefix: str) -> None:
    reader = OpsReader(aredis, prefix)
    await reader.snapshot()  # sampled before anything was ever sent
    for i in range(3):
        await aredis.xadd(prefix + INGESTED_STREAM, {"ce_id": f"first-{i}"})
    await asyncio.sleep(0.3)
    await aredis.delete(Keys(prefix).sample_lock)
    ingest = stage(await reader.snapshot(), "ingest")
    assert ingest.rate_per_s is not None and ingest.rate_per_s > 0


async def test_latest_stories_and_sse_clients(aredis: Redis, prefix: str) -> None:
    article = Article(uri="urn:ops:1", version=1, source=Source(provider="t", format="json"),
                      headlines=[{"value": "Harbour bridge reopens"}],
                      subjects=[{"code": "medtop:04000000", "name": "economy"}],
                      places=[{"name": "Sydney", "type": "place"}])
    await aredis.xadd(prefix + PUBLISHED_STREAM,
                      ArticlePublished.for_article(article, "t").to_fields())
    reader = OpsReader(aredis, prefix)
    assert (await reader.snapshot()).sse_clients is None  # nobody reported
    await reader.report_sse_clients("publish-a", 2)
    await reader.report_sse_clients("publish-b", 1)
    snap = await reader.snapshot()
    assert snap.sse_clients == 3
    [story] = snap.latest
    assert (story.uri, story.headline) == ("urn:ops:1", "Harbour bridge reopens")
    assert story.topics == ["economy"] and story.entities == ["Sydney"]


async def test_webhook_health_per_subscription_from_the_queue_keys(
        aredis: Redis, prefix: str) -> None:
    keys = Keys(prefix)
    now = int(time.time() * 1000)
    # sub_ok: 3 delivered this hour, 1 queued. sub_gone: its last delivery got a 410.
    await aredis.zadd(keys.webhook("sub_ok", "sent"), {"a": now, "b": now, "c": now})
    await aredis.zadd(keys.webhook("sub_ok", "due"), {"sub_ok_d": now})
    await aredis.hset(keys.webhook("sub_ok", "rec"), "sub_ok_d", orjson.dumps(
        {"attempts": [{"at": "2026-01-01T00:00:00Z", "status": 503, "error": None}]}))
    await aredis.zadd(keys.webhook("sub_gone", "dead"), {"sub_gone_x": now})
    await aredis.hset(keys.webhook("sub_gone", "rec"), "sub_gone_x", orjson.dumps(
        {"attempts": [{"at": "2026-01-01T00:00:00Z", "status": 410, "error": None}]}))
    await aredis.zadd(keys.webhook("sub_deleted", "due"), {"x": now})
    await aredis.set(keys.webhook("sub_deleted", "deleted"), b"1")

    hooks = {w.subscription: w for w in (await OpsReader(aredis, prefix).snapshot()).webhooks}

    assert set(hooks) == {"sub_ok", "sub_gone"}
    ok, gone = hooks["sub_ok"], hooks["sub_gone"]
    assert (ok.queued, ok.delivered_1h, ok.success_rate, ok.disabled) == (1, 3, 1.0, None)
    assert ok.last_error == "HTTP 503"
    assert (gone.dead, gone.dead_1h, gone.success_rate) == (1, 1, 0.0)
    assert gone.disabled is True and gone.disabled_reason == "gone: 410"
    assert gone.status == "red"


async def test_a_backlog_nobody_reads_is_stuck_once_the_samples_span_the_threshold(
        aredis: Redis, prefix: str) -> None:
    await _backlog(aredis, prefix, 3, read=0)  # lag 3, nothing pending, no replica
    reader = OpsReader(aredis, prefix, stuck_after_s=1.0)
    first = stage(await reader.snapshot(), "enrich")
    assert (first.lag, first.pending, first.stuck, first.status) == (3, 0, False, "amber")
    assert first.reasons == ["3 waiting and no replica consuming"]
    deadline = time.monotonic() + 10
    while not (snap := await reader.snapshot()).stuck:
        assert time.monotonic() < deadline, stage(snap, "enrich")
        await aredis.delete(Keys(prefix).sample_lock)  # as if the sampling interval had passed
        await asyncio.sleep(0.2)
    enrich = stage(snap, "enrich")
    assert enrich.idle_for_s is not None and enrich.idle_for_s >= 1.0
    assert enrich.reasons[0].startswith("stuck: 3 waiting, nothing consumed for")
