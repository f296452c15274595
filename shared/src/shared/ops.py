"""The operational snapshot: how each stage is keeping up, read straight from Redis.

One reader feeds both views, publish's ``/dashboard`` (through ``/v1/ops/snapshot``) and
``newsflow stats``. Everything comes from a few cheap commands per stage, sent in one pipeline:
``XINFO STREAM`` (entries added), ``XINFO GROUPS`` (lag, pending, entries read),
``XINFO CONSUMERS`` (each replica's idle time), ``XPENDING`` (the oldest pending entry),
``<stream>.dlq`` (dead letters and their reasons), the webhook delivery queues and the newest
entries of ``news.published``.

Rates need history, so every reader (at most one every ``SAMPLE_EVERY_MS`` across all of them)
appends the counters it read to a sorted set kept for ``HISTORY_MS``; publish also records a
sample on a timer, so the history is there when someone first looks.

Stage status, the same in both views:
- ``red`` (stuck): work is waiting (lag or pending) and nothing was consumed for
  ``stuck_after_s`` (by the sampled counters, or by the idle time of the oldest pending entry);
  or new dead letters within ``RECENT_MS``;
- ``amber``: the lag grew over the last minute, dead letters wait for a decision, or work
  waits with no replica consuming;
- ``ok`` otherwise.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson
import structlog
from redis.asyncio import Redis

from shared.events import (
    ENRICHED_STREAM,
    INGESTED_STREAM,
    PUBLISHED_STREAM,
    Event,
    EventDecodeError,
)
from shared.streams import DLQ_SUFFIX

HISTORY_MS = 15 * 60 * 1000  # samples kept
SAMPLE_EVERY_MS = 5_000  # at most one sample per this, whoever reads
RATE_WINDOW_MS = 5 * 60 * 1000  # the rate shown is the average over this
SPARK_POINTS = 30  # sparkline buckets over HISTORY_MS
RECENT_MS = 5 * 60 * 1000  # dead letters this new turn the stage red
ACTIVE_CONSUMER_MS = 30_000  # a consumer that read within this is consuming
SSE_TTL_MS = 15_000  # a replica's SSE client count is trusted this long
DEAD_REASONS = 3  # latest dead-letter reasons shown per stage
LATEST_STORIES = 10

log = structlog.get_logger()


class Keys:
    """Every Redis key the snapshot reads or writes (the webhook ones belong to the delivery
    queue; their layout is documented there and read here, never written)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def stream(self, name: str) -> str:
        return self.prefix + name

    def dlq(self, name: str) -> str:
        return self.prefix + name + DLQ_SUFFIX

    @property
    def samples(self) -> str:
        return self.prefix + "ops:samples"

    @property
    def sample_lock(self) -> str:
        return self.prefix + "ops:sampled"

    @property
    def sse_clients(self) -> str:
        return self.prefix + "ops:sse"  # HASH replica -> "count:expires_ms"

    def webhook(self, subscription: str, name: str) -> str:
        # name: due (queued, ZSET), rec (records, HASH), dead (ZSET), sent (ZSET), deleted
        return f"{self.prefix}webhooks:{{{subscription}}}:{name}"

    @property
    def webhook_pattern(self) -> str:
        return f"{_glob_escape(self.prefix)}webhooks:{{*}}:*"

    def subscription_of(self, key: str) -> str | None:
        match = re.match(re.escape(self.prefix) + r"webhooks:\{([^{}]+)\}:", key)
        return match.group(1) if match else None


@dataclass(frozen=True)
class StageSpec:
    name: str
    stream: str  # the stream the stage reads (ingest: writes)
    group: str | None  # None: the stage writes the stream (ingest)


STAGES = (
    StageSpec("ingest", INGESTED_STREAM, None),
    StageSpec("enrich", INGESTED_STREAM, "enrich"),
    StageSpec("publish", ENRICHED_STREAM, "publish"),
    StageSpec("webhooks", PUBLISHED_STREAM, "webhooks"),
)


@dataclass(frozen=True)
class SubscriptionInfo:
    """What the subscription store knows and Redis does not (optional)."""

    url: str | None
    enabled: bool
    disabled_reason: str | None = None


@dataclass(frozen=True)
class Replica:
    name: str
    pending: int
    idle_s: float
    consuming: bool  # read within ACTIVE_CONSUMER_MS


@dataclass(frozen=True)
class DeadLetterReason:
    id: str
    time_ms: int
    error: str
    subject: str | None
    attempts: int


@dataclass
class StageSnapshot:
    name: str
    stream: str
    group: str | None
    length: int  # entries in the stream now
    entries_added: int  # ever, on the stream
    through: int | None  # entries the group has read (ingest: entries added), ever
    rate_per_s: float | None  # consumed (ingest: accepted) per second over RATE_WINDOW_MS
    series: list[float | None]  # per-second rates over HISTORY_MS, oldest first
    lag: int | None  # entries not yet read by the group (None: Redis cannot tell)
    pending: int  # read but not acknowledged
    oldest_pending_age_s: float | None  # since the oldest pending entry was added
    oldest_pending_idle_s: float | None  # since it was last delivered to a replica
    idle_for_s: float | None  # since the group last consumed anything (from the samples)
    replicas: list[Replica]
    dead_letters: int
    dead_recent: int  # within RECENT_MS
    latest_dead: list[DeadLetterReason]
    status: str = "ok"  # ok | amber | red
    stuck: bool = False
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WebhookHealth:
    subscription: str
    url: str | None
    disabled: bool | None  # None: unknown (no subscription store at hand)
    disabled_reason: str | None
    queued: int
    dead: int
    delivered_1h: int
    dead_1h: int
    success_rate: float | None  # delivered / (delivered + dead) over the last hour
    last_error: str | None
    last_error_ms: int | None
    status: str  # ok | amber | red


@dataclass(frozen=True)
class Story:
    entry_id: str
    time_ms: int
    type: str
    uri: str
    headline: str
    topics: list[str]
    entities: list[str]


@dataclass
class Snapshot:
    time_ms: int
    prefix: str
    stuck_after_s: float
    stages: list[StageSnapshot]
    webhooks: list[WebhookHealth]
    latest: list[Story]
    sse_clients: int | None  # None: no publish replica reported lately
    history_s: float  # how far back the samples reach

    @property
    def stuck(self) -> list[str]:
        return [s.name for s in self.stages if s.stuck]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stuck"] = self.stuck
        return out


SubscriptionSource = Callable[[], Mapping[str, SubscriptionInfo]]


class OpsReader:
    """Reads snapshots; keep one per process (it caches the webhook subscription ids)."""

    def __init__(self, redis: Redis, prefix: str = "", *, stuck_after_s: float = 300.0,
                 subscriptions: SubscriptionSource | None = None,
                 rescan_s: float = 30.0) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.stuck_after_s = stuck_after_s
        self.subscriptions = subscriptions
        self.rescan_s = rescan_s
        self._scanned: tuple[float, list[str]] | None = None

    async def snapshot(self) -> Snapshot:
        now = await self._now_ms()
        counters = await self._counters(_streams())
        await self.record(now, counters)
        history = await self._history(now)
        stages = [self._stage(spec, counters, history, now) for spec in STAGES]
        await self._dead_reasons(stages)
        webhooks = await self._webhooks(now)
        latest = await self._latest()
        sse = await self._sse_clients(now)
        reach = (now - history[0]["t"]) / 1000 if history else 0.0
        return Snapshot(now, self.keys.prefix, self.stuck_after_s, stages, webhooks, latest,
                        sse, reach)

    # -- counters and their history ------------------------------------------------------

    async def _counters(self, streams: list[str]) -> dict[str, Any]:
        """Per stream: stream info, groups, consumers per group, pending summary, dlq."""
        pipe = self.redis.pipeline(transaction=False)
        for name in streams:
            pipe.xinfo_stream(self.keys.stream(name))
            pipe.xinfo_groups(self.keys.stream(name))
            pipe.xlen(self.keys.dlq(name))
        raw = await pipe.execute(raise_on_error=False)
        out: dict[str, Any] = {}
        for i, name in enumerate(streams):
            info, groups, dlq_len = raw[3 * i:3 * i + 3]
            out[name] = {
                "info": info if isinstance(info, dict) else None,
                "groups": {_text(g["name"]): g for g in groups} if isinstance(groups, list)
                else {},
                "dlq": int(dlq_len) if isinstance(dlq_len, int) else 0,
                "consumers": {}, "pending": {},
            }
        pipe = self.redis.pipeline(transaction=False)
        asked: list[tuple[str, str, str]] = []
        for spec in STAGES:
            if spec.group and spec.group in out[spec.stream]["groups"]:
                key = self.keys.stream(spec.stream)
                pipe.xinfo_consumers(key, spec.group)
                pipe.xpending_range(key, spec.group, min="-", max="+", count=1)
                asked.append((spec.stream, spec.group, key))
        raw = await pipe.execute(raise_on_error=False) if asked else []
        for i, (name, group, _) in enumerate(asked):
            consumers, oldest = raw[2 * i:2 * i + 2]
            out[name]["consumers"][group] = consumers if isinstance(consumers, list) else []
            out[name]["pending"][group] = oldest[0] if isinstance(oldest, list) and oldest \
                else None
        return out

    async def sample(self) -> None:
        """Record the counters now (if no reader did within SAMPLE_EVERY_MS)."""
        await self.record(await self._now_ms(), await self._counters(_streams()))

    async def record(self, now: int, counters: dict[str, Any]) -> None:
        """Append one sample unless another reader did within SAMPLE_EVERY_MS."""
        if not await self.redis.set(self.keys.sample_lock, b"1", px=SAMPLE_EVERY_MS - 500,
                                    nx=True):
            return
        sample: dict[str, Any] = {"t": now}
        for name, c in counters.items():
            # A stream that does not exist yet has had nothing added: counting it as 0 lets
            # the first entries show as a rate instead of becoming the baseline.
            added = _int(c["info"].get("entries-added")) if c["info"] is not None else 0
            sample[name] = {
                "added": added,
                "dlq": c["dlq"],
                "read": {g: _entries_read(v) for g, v in c["groups"].items()},
                "lag": {g: _int(v.get("lag")) for g, v in c["groups"].items()},
            }
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(self.keys.samples, {orjson.dumps(sample): now})
        pipe.zremrangebyscore(self.keys.samples, "-inf", now - HISTORY_MS)
        await pipe.execute()

    async def _history(self, now: int) -> list[dict[str, Any]]:
        raw: Any = await self.redis.zrangebyscore(self.keys.samples, now - HISTORY_MS, "+inf")
        return [orjson.loads(r) for r in raw]

    # -- stages --------------------------------------------------------------------------

    def _stage(self, spec: StageSpec, counters: dict[str, Any],
               history: list[dict[str, Any]], now: int) -> StageSnapshot:
        c = counters[spec.stream]
        info = c["info"] or {}
        group = c["groups"].get(spec.group) if spec.group else None

        def counter(sample: dict[str, Any]) -> int | None:
            s = sample.get(spec.stream) or {}
            return s.get("added") if spec.group is None else (s.get("read") or {}).get(
                spec.group)

        points = [(int(h["t"]), v) for h in history if (v := counter(h)) is not None]
        lag = _int(group.get("lag")) if group else None
        pending = int(group.get("pending", 0)) if group else 0
        oldest = c["pending"].get(spec.group) if spec.group else None
        stage = StageSnapshot(
            name=spec.name, stream=self.keys.stream(spec.stream), group=spec.group,
            length=_int(info.get("length")) or 0, entries_added=_int(
                info.get("entries-added")) or 0,
            through=(_entries_read(group) if group else None) if spec.group
            else _int(info.get("entries-added")) or 0,
            rate_per_s=_rate(points, now - RATE_WINDOW_MS), series=_series(points, now),
            lag=lag, pending=pending,
            oldest_pending_age_s=(now - _id_ms(oldest["message_id"])) / 1000 if oldest else None,
            oldest_pending_idle_s=int(oldest["time_since_delivered"]) / 1000 if oldest else None,
            idle_for_s=_unchanged_for(points, now) if spec.group else None,
            replicas=_replicas(c["consumers"].get(spec.group, [])) if spec.group else [],
            dead_letters=c["dlq"] if spec.group else 0,
            dead_recent=0, latest_dead=[])
        if spec.group:
            stage.dead_recent = _dead_recent(history, spec.stream, c["dlq"], now)
            self._judge(stage, history, spec)
        return stage

    def _judge(self, stage: StageSnapshot, history: list[dict[str, Any]],
               spec: StageSpec) -> None:
        red: list[str] = []
        amber: list[str] = []
        waiting = (stage.lag or 0) + stage.pending
        if waiting:
            if stage.idle_for_s is not None and stage.idle_for_s >= self.stuck_after_s:
                red.append(f"stuck: {waiting} waiting, nothing consumed for "
                           f"{stage.idle_for_s:.0f}s")
            elif (stage.oldest_pending_idle_s is not None
                  and stage.oldest_pending_idle_s >= self.stuck_after_s):
                red.append(f"stuck: oldest pending entry untouched for "
                           f"{stage.oldest_pending_idle_s:.0f}s")
            if not any(r.consuming for r in stage.replicas):
                amber.append(f"{waiting} waiting and no replica consuming")
        stage.stuck = bool(red)
        if stage.dead_recent:
            red.append(f"{stage.dead_recent} new dead letter(s) in the last "
                       f"{RECENT_MS // 60000} min")
        elif stage.dead_letters:
            amber.append(f"{stage.dead_letters} dead letter(s) waiting for replay or removal")
        grew = _lag_growth(history, spec, stage.lag)
        if grew:
            amber.append(f"lag growing: {grew[0]} -> {grew[1]} over the last minute")
        stage.reasons = red + amber
        stage.status = "red" if red else "amber" if amber else "ok"

    async def _dead_reasons(self, stages: list[StageSnapshot]) -> None:
        wanted = [s for s in stages if s.dead_letters]
        if not wanted:
            return
        pipe = self.redis.pipeline(transaction=False)
        for s in wanted:
            pipe.xrevrange(s.stream + DLQ_SUFFIX, count=DEAD_REASONS)
        for stage, entries in zip(wanted, await pipe.execute(), strict=True):
            stage.latest_dead = [_dead_reason(i, f) for i, f in entries]

    # -- webhooks ------------------------------------------------------------------------

    async def _subscription_ids(self) -> tuple[list[str], Mapping[str, SubscriptionInfo]]:
        known = self.subscriptions() if self.subscriptions else {}
        if self.subscriptions is not None:
            return sorted(known), known
        if self._scanned is None or time.monotonic() - self._scanned[0] > self.rescan_s:
            ids = set()
            async for key in self.redis.scan_iter(match=self.keys.webhook_pattern, count=1000):
                sub = self.keys.subscription_of(_text(key))
                if sub:
                    ids.add(sub)
            self._scanned = (time.monotonic(), sorted(ids))
        return self._scanned[1], known

    async def _webhooks(self, now: int) -> list[WebhookHealth]:
        ids, known = await self._subscription_ids()
        if not ids:
            return []
        hour = now - 3600_000
        k = self.keys.webhook
        pipe = self.redis.pipeline(transaction=False)
        for sub in ids:
            pipe.exists(k(sub, "deleted"))
            pipe.zcard(k(sub, "due"))
            pipe.zcard(k(sub, "dead"))
            pipe.zcount(k(sub, "sent"), hour, "+inf")
            pipe.zcount(k(sub, "dead"), hour, "+inf")
            pipe.zrevrange(k(sub, "dead"), 0, 0)
            pipe.zrange(k(sub, "due"), 0, 0)
        raw = await pipe.execute()
        pipe = self.redis.pipeline(transaction=False)
        for i, sub in enumerate(ids):
            last_dead, next_due = raw[7 * i + 5], raw[7 * i + 6]
            pipe.hmget(k(sub, "rec"), [*last_dead, *next_due] or ["-"])
        records = await pipe.execute()
        out = []
        for i, sub in enumerate(ids):
            deleted, queued, dead, sent_1h, dead_1h = (int(v) for v in raw[7 * i:7 * i + 5])
            if deleted:
                continue
            error, error_ms, gone = _last_error(records[i])
            info = known.get(sub)
            disabled = (not info.enabled) if info else (True if gone else None)
            reason = info.disabled_reason if info else ("gone: 410" if gone else None)
            done = sent_1h + dead_1h
            rate = sent_1h / done if done else None
            failing_now = bool(dead_1h) or (rate is not None and rate < 0.9)
            # Disabled by Newsflow (a 410) needs a look; disabled by an operator does not.
            if (disabled and reason) or failing_now:
                status = "red"
            elif dead or (error_ms and now - error_ms < RECENT_MS):
                status = "amber"
            else:
                status = "ok"
            out.append(WebhookHealth(
                subscription=sub, url=info.url if info else None, disabled=disabled,
                disabled_reason=reason, queued=queued, dead=dead, delivered_1h=sent_1h,
                dead_1h=dead_1h, success_rate=rate, last_error=error, last_error_ms=error_ms,
                status=status))
        return out

    # -- stories and SSE -----------------------------------------------------------------

    async def _latest(self) -> list[Story]:
        entries: Any = await self.redis.xrevrange(self.keys.stream(PUBLISHED_STREAM),
                                                  count=LATEST_STORIES)
        stories = []
        for entry_id, fields in entries or []:
            try:
                event = Event.from_fields(fields)
            except EventDecodeError:
                continue
            data = event.data
            headlines = data.get("headlines") or [{}]
            stories.append(Story(
                entry_id=_text(entry_id), time_ms=_id_ms(entry_id), type=event.type,
                uri=event.subject, headline=str(headlines[0].get("value") or ""),
                topics=list(dict.fromkeys(str(s.get("name") or s.get("code"))
                                          for s in data.get("subjects", []))),
                entities=[str(e.get("name")) for kind in ("people", "organisations", "places")
                          for e in data.get(kind, [])][:12]))
        return stories

    async def _sse_clients(self, now: int) -> int | None:
        raw = await self.redis.hgetall(self.keys.sse_clients)
        total, fresh = 0, False
        for value in raw.values():
            count, _, expires = _text(value).partition(":")
            if int(expires or 0) >= now:
                total, fresh = total + int(count), True
        return total if fresh else None

    async def report_sse_clients(self, replica: str, count: int) -> None:
        """Publish says how many SSE clients it holds; readers sum the fresh reports."""
        now = await self._now_ms()
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.keys.sse_clients, replica, f"{count}:{now + SSE_TTL_MS}")
        pipe.pexpire(self.keys.sse_clients, SSE_TTL_MS * 4)
        await pipe.execute()
        raw = await self.redis.hgetall(self.keys.sse_clients)
        stale = [k for k, v in raw.items() if int(_text(v).partition(":")[2] or 0) < now]
        if stale:
            await self.redis.hdel(self.keys.sse_clients, *stale)

    async def _now_ms(self) -> int:
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000


async def record_forever(reader: OpsReader, sse_count: Callable[[], int], replica: str,
                         interval_s: float = SAMPLE_EVERY_MS / 1000) -> None:
    """Publish's timer: keep the history going and report this replica's SSE clients."""
    while True:
        try:
            await reader.report_sse_clients(replica, sse_count())
            await reader.sample()
        except Exception:
            log.exception("ops.sample_failed")
        await asyncio.sleep(interval_s)


# -- helpers ---------------------------------------------------------------------------------

def _rate(points: list[tuple[int, int]], since: int) -> float | None:
    """Average per second between the first sample at or after ``since`` and the last."""
    window = [(t, v) for t, v in points if t >= since]
    if len(window) < 2 or window[-1][0] <= window[0][0]:
        return None
    return max(0, window[-1][1] - window[0][1]) / ((window[-1][0] - window[0][0]) / 1000)


def _series(points: list[tuple[int, int]], now: int) -> list[float | None]:
    """Per-second rate in SPARK_POINTS buckets over HISTORY_MS (None: no samples there)."""
    width = HISTORY_MS / SPARK_POINTS
    start = now - HISTORY_MS
    sums = [0.0] * SPARK_POINTS
    spans = [0.0] * SPARK_POINTS
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t1 <= t0:
            continue
        bucket = min(SPARK_POINTS - 1, max(0, int((t1 - start) // width)))
        sums[bucket] += max(0, v1 - v0)
        spans[bucket] += (t1 - t0) / 1000
    return [round(s / d, 3) if d else None for s, d in zip(sums, spans, strict=True)]


def _unchanged_for(points: list[tuple[int, int]], now: int) -> float | None:
    """Seconds the counter has not moved, as far back as the samples reach (None: no
    samples)."""
    if not points:
        return None
    last = points[-1][1]
    since = points[-1][0]
    for t, v in reversed(points):
        if v != last:
            break
        since = t
    return (now - since) / 1000


def _lag_growth(history: list[dict[str, Any]], spec: StageSpec,
                lag: int | None) -> tuple[int, int] | None:
    if lag is None or not history or not spec.group:
        return None
    latest = history[-1]["t"]
    then = [((h.get(spec.stream) or {}).get("lag") or {}).get(spec.group)
            for h in history if latest - h["t"] >= 60_000]
    before = then[-1] if then else None
    if before is not None and lag > before > 0:
        return before, lag
    return None


def _dead_recent(history: list[dict[str, Any]], stream: str, dlq_now: int, now: int) -> int:
    """Dead letters added within RECENT_MS: the count now less the count in the newest sample
    at least that old (or the oldest sample there is). A replay lowers the count."""
    counts = [(int(h["t"]), int(v)) for h in history
              if (v := (h.get(stream) or {}).get("dlq")) is not None]
    if not counts:
        return 0
    older = [v for t, v in counts if now - t >= RECENT_MS]
    base = older[-1] if older else counts[0][1]
    return max(0, dlq_now - base)


def _replicas(consumers: list[dict[str, Any]]) -> list[Replica]:
    """One row per consumer: a process reads, reclaims and keeps alive under one name."""
    replicas = []
    for c in consumers:
        idle = int(c.get("idle", 0)) / 1000
        replicas.append(Replica(_text(c["name"]), int(c.get("pending", 0)), idle,
                                idle * 1000 < ACTIVE_CONSUMER_MS))
    return sorted(replicas, key=lambda r: r.name)


def _dead_reason(entry_id: Any, fields: dict[bytes, bytes]) -> DeadLetterReason:
    def get(name: str) -> str:
        return _text(fields.get(name.encode(), b""))

    return DeadLetterReason(id=_text(entry_id), time_ms=int(get("dlq_time_ms") or 0),
                            error=get("dlq_error")[:500], subject=get("ce_subject") or None,
                            attempts=int(get("dlq_attempts") or 0))


def _last_error(records: list[Any]) -> tuple[str | None, int | None, bool]:
    """The newest failed attempt among the given delivery records; whether it was a 410."""
    best: tuple[str | None, int | None, bool] = (None, None, False)
    for raw in records:
        if not raw:
            continue
        record = orjson.loads(raw)
        for attempt in reversed(record.get("attempts") or []):
            if attempt.get("replayed") or (attempt.get("status") or 0) // 100 == 2:
                continue
            at = _iso_ms(attempt.get("at"))
            if best[1] is None or (at or 0) > best[1]:
                status = attempt.get("status")
                text = attempt.get("error") or (f"HTTP {status}" if status else "failed")
                best = (str(text)[:300], at, status == 410)
            break
    return best


def _entries_read(group: dict[str, Any]) -> int | None:
    """The group's entries-read; Redis leaves it nil until the group's first read."""
    read = _int(group.get("entries-read"))
    if read is None and _text(group.get("last-delivered-id")) == "0-0":
        return 0
    return read


def _streams() -> list[str]:
    return sorted({s.stream for s in STAGES})


def _iso_ms(value: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _id_ms(entry_id: Any) -> int:
    return int(_text(entry_id).partition("-")[0])


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
