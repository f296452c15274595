"""The durable webhook delivery queue in Redis: per subscription, claimed atomically by one replica.

Keys per subscription (``{id}`` is a Redis Cluster hash tag, so each script touches one slot):

    webhooks:{sub}:due           ZSET delivery id -> due time (ms, Redis clock); a claimed delivery
                                 is pushed to now + lease, so no other replica sees it while it is
                                 sent, and it comes back by itself if this replica dies
    webhooks:{sub}:first         HASH delivery id -> record as queued (no attempt yet): the JSON
                                 of its fields but the body, a newline, the body as it is
                                 (`Delivery.queued_head`); written with a plain HSET just
                                 before the script that queues it (see _ENQUEUE)
    webhooks:{sub}:rec           HASH delivery id -> record JSON rewritten after an attempt (body,
                                 attempt history, status); a delivery's record is here if it is
                                 anywhere, else in first
    webhooks:{sub}:dead          ZSET delivery id -> time it was dead-lettered
    webhooks:{sub}:got           ZSET story uri -> last time one of its versions was queued here
                                 (a kill goes to every subscription that got the story)
    webhooks:{sub}:sent          ZSET delivery id -> time delivered (a re-read of news.published
                                 after a crash does not send it again), trimmed after a day
    webhooks:{sub}:story:<hash>  SET of queued or dead delivery ids of one story (a kill drops them)
    webhooks:{sub}:deleted       set when the subscription is deleted: nothing is queued for it
    webhooks:{sub}:stats         HASH of the subscription's delivery figures, written by the same
                                 scripts that settle each attempt (the per-subscription health
                                 an operator reads; /metrics carries totals only):
                                   delivered          deliveries answered 2xx
                                   failed_attempts    attempts that did not succeed
                                   dead_lettered      deliveries that gave up (or got 410)
                                   last_delivered_ms  Redis time of the last 2xx
                                   last_failed_ms     Redis time of the last failed attempt
                                   last_status        HTTP status of that attempt (0: none)

Every key above is owned by the deliver service and has kept its name since webhooks were part
of publish, so queues written by an older version are picked up as they are (``first`` is the
newest: until it, every record was in rec, where it is still read). An older deliver does not
read ``first``, and would take a delivery queued there for one dropped by a kill: run no older
replica beside a newer one (docs/operations.md says how to upgrade).

The delivery id is ``<subscription id>_<ce_id>``: stable across retries, it is the
``webhook-id`` header.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis

from shared.redis_packing import joined
from shared.scripts import ScriptCall, run_scripts

SENT_MEMORY_MS = 24 * 3600 * 1000
# Deliveries queued here and not yet claimed, kept to be sent as such: at most this many, and
# records of at most this many bytes in all (a backlog of a subscriber that is down is read back).
FRESH_COPIES_MAX = 20_000
FRESH_BYTES_MAX = 32 * 1024 * 1024
TOMBSTONE_S = 7 * 24 * 3600  # far longer than any replica takes to hear of a deletion

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Runs ``command key args...`` once per 4,000 arguments (Lua's unpack gives out near 8,000; an
# even step keeps ZADD's score-member pairs whole). Returns the sum of the replies when they are
# integers, their concatenation when they are lists. One call for a whole batch instead of one
# per delivery: most of a script's time went into each redis.call itself (converting its
# arguments and reply), not into the command it runs.
_CALL_ALL = """
local function call_all(command, key, args)
  local sum, list = 0, {}
  for i = 1, #args, 4000 do
    local reply = redis.call(command, key, unpack(args, i, math.min(i + 3999, #args)))
    if type(reply) == 'table' then
      for _, value in ipairs(reply) do list[#list + 1] = value end
    else
      sum = sum + reply
    end
  end
  return sum, list
end
"""

# One subscription's deliveries of a batch, in order (a kill drops the versions queued before it,
# earlier in the same batch too). The records are not arguments: `DeliveryQueue.enqueue` writes
# them into ``first`` with one plain HSET just before this call, in the same pipeline, and the
# script deletes the ones it does not queue. Redis's Lua hashes every byte of every string it is
# given (about 1.3 ns a byte), so 4.5 KB records taken in as arguments cost Redis more than the
# rest of the script did; a plain HSET stores them for a fraction of that (Redis's CPU for an
# enqueue, measured per 4.5 KB delivery: 16-24 µs with the records as arguments, 9-12 so).
# Whether a delivery is queued already is whether it is in due or dead (a record exists exactly
# then, but its ``first`` record has just been written either way). KEYS: due rec got sent dead
# deleted first story_1 .. story_n; ARGV: id_1 uri_1 is_kill_1 .. -> {queued, dropped, flags},
# flags holding one byte a delivery: "1" if this call queued it (and no later kill of the batch
# dropped it). Which ids are queued or sent already is asked once for the batch (ZMSCORE), and
# the due times and stories got are written once at its end; ``stored`` follows what due and
# dead hold meanwhile, as the checks of each delivery in turn saw it.
_ENQUEUE = _NOW + _CALL_ALL + """
local n = #ARGV / 3
local ids = {}
for i = 1, n do ids[i] = ARGV[3*i-2] end
if redis.call('EXISTS', KEYS[6]) == 1 then
  call_all('HDEL', KEYS[7], ids)
  return {0, 0, string.rep('0', n)}
end
local _, due = call_all('ZMSCORE', KEYS[1], ids)
local _, dead = call_all('ZMSCORE', KEYS[5], ids)
local _, sent = call_all('ZMSCORE', KEYS[4], ids)
local stored, delivered = {}, {}
for i = 1, n do
  stored[ids[i]] = due[i] ~= false or dead[i] ~= false
  delivered[ids[i]] = sent[i] ~= false
end
due, dead, sent = nil, nil, nil
local queued, dropped = 0, 0
local flags, at, got = {}, {}, {}
for i = 1, n do
  local id, uri, kill = ids[i], ARGV[3*i-1], ARGV[3*i]
  local story = KEYS[7 + i]
  flags[i] = '0'
  if not stored[id] and not delivered[id] then
    if kill == '1' then
      local olds = {}
      for _, old in ipairs(redis.call('SMEMBERS', story)) do
        if at[old] then  -- queued earlier in this batch: its record is in first only
          flags[at[old]], at[old] = '0', nil
          dropped = dropped + 1
        else
          olds[#olds + 1] = old
        end
        stored[old] = false
      end
      dropped = dropped + call_all('ZREM', KEYS[1], olds) + call_all('ZREM', KEYS[5], olds)
      call_all('HDEL', KEYS[2], olds)
      call_all('HDEL', KEYS[7], olds)
      redis.call('DEL', story)
    else
      redis.call('SADD', story, id)
      got[#got + 1] = now
      got[#got + 1] = uri
    end
    flags[i], at[id], stored[id] = '1', i, true
    queued = queued + 1
  end
end
local due_at, unwanted = {}, {}
for i = 1, n do
  local id = ids[i]
  if flags[i] == '1' then
    due_at[#due_at + 1] = now
    due_at[#due_at + 1] = id
  elseif not at[id] and (not stored[id] or redis.call('HEXISTS', KEYS[2], id) == 1) then
    -- not queued (sent already, dropped by a kill) or queued with a newer record in rec
    unwanted[#unwanted + 1] = id
  end
end
call_all('HDEL', KEYS[7], unwanted)
call_all('ZADD', KEYS[1], due_at)
call_all('ZADD', KEYS[3], got)
return {queued, dropped, table.concat(flags)}
"""

# Deliveries of one subscription answered 2xx, then a claim: one round trip does both.
# KEYS: due rec sent stats first story_1 .. story_n;
# ARGV: limit lease_ms id_1 .. id_n -> {now, next_due or -1, id, length, id, length, ...}
# The ids are marked delivered first (out of due, rec and first, into sent, counted in stats).
# Then up to ``limit`` due deliveries are leased for ``lease_ms`` (one ZADD for all). Each comes
# back as the length of its record (HSTRLEN of rec, else of first), not the record: the claiming
# replica sends its own copy, made when it queued the delivery, if the lengths are equal, and
# reads the record after the call otherwise (see `DeliveryQueue.complete_and_claim` for why
# equal means unchanged). Never the record itself: Redis's Lua hashes every byte of every
# string it takes in, a record read here too (HMGET's reply), which made a claim of records cost
# Redis 10 µs a delivery (4.5 KB records) against 3.5 for this call and 0.5 for the HMGET after
# it. A record is never empty, so a length of 0 is a record dropped meanwhile, as a missing one
# is.
_COMPLETE_CLAIM = _NOW + _CALL_ALL + """
if #ARGV > 2 then
  local ids, sent = {}, {}
  for i = 3, #ARGV do
    local id = ARGV[i]
    ids[#ids + 1] = id
    sent[#sent + 1] = now
    sent[#sent + 1] = id
    redis.call('SREM', KEYS[3 + i], id)
  end
  call_all('ZREM', KEYS[1], ids)
  call_all('HDEL', KEYS[2], ids)
  call_all('HDEL', KEYS[5], ids)
  call_all('ZADD', KEYS[3], sent)
  redis.call('HINCRBY', KEYS[4], 'delivered', #ids)
  redis.call('HSET', KEYS[4], 'last_delivered_ms', now)
end
local out = {now, -1}
local limit = tonumber(ARGV[1])
if limit == 0 then return out end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
local records = {}
for i, id in ipairs(ids) do
  local length = redis.call('HSTRLEN', KEYS[2], id)
  if length == 0 then length = redis.call('HSTRLEN', KEYS[5], id) end
  records[i] = length > 0 and length
end
local leases, gone = {}, {}
local lease_end = now + tonumber(ARGV[2])
for i, id in ipairs(ids) do
  if records[i] then
    leases[#leases + 1] = lease_end
    leases[#leases + 1] = id
    out[#out + 1] = id
    out[#out + 1] = records[i]
  else
    gone[#gone + 1] = id
  end
end
call_all('ZADD', KEYS[1], leases)
call_all('ZREM', KEYS[1], gone)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then out[2] = tonumber(first[2]) end
return out
"""

_FAILED = """
redis.call('HINCRBY', KEYS[3], 'failed_attempts', 1)
redis.call('HSET', KEYS[3], 'last_failed_ms', now, 'last_status', ARGV[4])
"""

# The scripts below act on a claimed delivery: it is still queued if it is still in due (a kill
# takes it out, with its records), as _ENQUEUE decides too. A record rewritten after an attempt
# goes to rec, and its first version away. KEYS: due rec stats first; ARGV: id record delay_ms
# status. 0 when the delivery was dropped meanwhile (a kill).
_RETRY = _NOW + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
""" + _FAILED + """
return 1
"""

# KEYS: due rec stats dead first; ARGV: id record - status
_DEAD = _NOW + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[4], now, ARGV[1])
redis.call('HINCRBY', KEYS[3], 'dead_lettered', 1)
""" + _FAILED + """
return 1
"""

# KEYS: due; ARGV: lease_ms id... Only ids still leased (claimed, not settled) move.
_RENEW = _NOW + """
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', 'GT', now + tonumber(ARGV[1]), ARGV[i])
end
return 1
"""

# KEYS: due; ARGV: id. An interrupted send becomes due again at once (if a kill has not dropped
# it meanwhile).
_RELEASE = _NOW + """
return redis.call('ZADD', KEYS[1], 'XX', 'CH', now, ARGV[1])
"""

# KEYS: due rec dead; ARGV: id record
_REPLAY = _NOW + """
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
return 1
"""


@dataclass
class Delivery:
    """One event to one subscription, with the history of its attempts."""

    id: str
    subscription: str
    type: str  # article.published | article.killed
    event_id: str
    entry_id: str  # on news.published
    uri: str
    published_ms: int  # when it was announced on news.published
    body: bytes  # the exact JSON sent (UTF-8); the same bytes on every attempt
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    status: str = "queued"  # queued | dead
    reason: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> bytes:
        """The whole record, the body as a JSON string (rec's form)."""
        # orjson serialises dataclasses natively (no asdict copy); the body, bytes, as text
        return orjson.dumps(self, default=_as_text)

    def queued_head(self) -> bytes:
        """The part of its record as queued (in ``first``) before the body: the JSON of every
        other field, then a newline. The body follows as it is, in UTF-8: neither escaped into
        a JSON string nor copied (orjson writes no newline outside a string, and escapes the
        ones in strings, so the first newline ends the JSON)."""
        fields = dict(self.__dict__)
        del fields["body"]
        return orjson.dumps(fields) + b"\n"

    @classmethod
    def from_json(cls, raw: bytes | str) -> Delivery:
        fields = orjson.loads(raw)
        fields["body"] = fields["body"].encode()
        return cls(**fields)

    @classmethod
    def from_queued(cls, raw: bytes) -> Delivery:
        """A record as queued: `queued_head` and the body."""
        head, _, body = raw.partition(b"\n")
        return cls(**orjson.loads(head), body=body)

    def summary(self) -> dict[str, Any]:
        """Everything but the body (the API's and the CLI's listing)."""
        out = asdict(self)
        out.pop("body")
        return out


def delivery_id(subscription_id: str, event_id: str) -> str:
    return f"{subscription_id}_{event_id}"


def subscription_of(delivery: str) -> str:
    return delivery.rsplit("_", 1)[0]


class DeliveryQueue:
    def __init__(self, redis: Redis, key_prefix: str = "") -> None:
        self.redis = redis
        self.prefix = key_prefix
        self._enqueue = redis.register_script(_ENQUEUE)
        self._complete_claim = redis.register_script(_COMPLETE_CLAIM)
        self._retry = redis.register_script(_RETRY)
        self._dead = redis.register_script(_DEAD)
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)
        self._replay = redis.register_script(_REPLAY)
        # Deliveries queued by this process and not yet claimed: id -> (delivery, length of its
        # record as queued, bytes it holds apart from its body). A claim of a record still as it
        # was queued sends this copy instead of reading the record back (see _COMPLETE_CLAIM);
        # the oldest are forgotten past the cap (a delivery dropped by a kill, or queued by
        # another replica first, is never claimed here). An OrderedDict: a plain dict's oldest
        # entry is found by walking past every slot deleted since it was last resized, which
        # took microseconds a delivery in a burst.
        self._fresh: OrderedDict[str, tuple[Delivery, int, int]] = OrderedDict()
        # The bodies those copies hold, by identity -> [copies holding it, its length]:
        # a story's deliveries to every subscription share one body, so it counts once towards
        # FRESH_BYTES_MAX (counted per copy, ten subscriptions filled the cap ten times early).
        self._fresh_bodies: dict[int, list[int]] = {}
        self._fresh_bytes = 0

    def key(self, subscription_id: str, name: str) -> str:
        return f"{self.prefix}webhooks:{{{subscription_id}}}:{name}"

    def story_key(self, subscription_id: str, uri: str) -> str:
        return self.key(subscription_id, f"story:{_story_digest(uri)}")

    async def enqueue(self, deliveries: list[Delivery]) -> tuple[int, int]:
        """Queue deliveries (a kill first drops its story's queued ones): per subscription, one
        HSET of the records into ``first`` and one script call, all in one pipeline. Returns
        (queued, dropped); repeats of queued or already sent deliveries are no-ops."""
        if not deliveries:
            return 0, 0
        by_subscription: dict[str, list[Delivery]] = {}
        for d in deliveries:
            by_subscription.setdefault(d.subscription, []).append(d)
        writes: list[tuple[Any, ...]] = []
        calls: list[ScriptCall] = []
        for s, mine in by_subscription.items():
            keys = [self.key(s, "due"), self.key(s, "rec"), self.key(s, "got"),
                    self.key(s, "sent"), self.key(s, "dead"), self.key(s, "deleted"),
                    self.key(s, "first")]
            records: list[Any] = []
            args: list[Any] = []
            for d in mine:
                head = d.queued_head()
                keys.append(self.story_key(s, d.uri))
                records += [d.id, joined(self.redis, (head, d.body))]
                args += [d.id, d.uri, "1" if d.type == "article.killed" else "0"]
                self._keep_fresh(d, len(head), len(d.body))
            writes.append(("HSET", self.key(s, "first"), *records))
            calls.append((self._enqueue, keys, args))
        results = await run_scripts(self.redis, calls, writes)
        # Copies are kept before the call (a claim may come before this task resumes) and only
        # of what the call queued: one of a delivery queued already, by another replica maybe, is
        # not known to be the stored record's bytes.
        for mine, (_, _, flags) in zip(by_subscription.values(), results, strict=True):
            for d, flag in zip(mine, _text(flags), strict=True):
                if flag != "1":
                    self._forget_fresh(d.id)
        return sum(int(r[0]) for r in results), sum(int(r[1]) for r in results)

    async def remember_stories(self, pairs: list[tuple[str, str]]) -> None:
        """Note (subscription, uri) as got without a delivery: a subscription that wants only
        kills must still hear of the kill of a story that matched its filters."""
        if not pairs:
            return
        now = int(time.time() * 1000)
        pipe = self.redis.pipeline(transaction=False)
        for subscription_id, uri in pairs:
            pipe.zadd(self.key(subscription_id, "got"), {uri: now})
        await pipe.execute()

    async def got_story(self, subscription_ids: list[str], uri: str) -> list[str]:
        """The subscriptions that were sent (or queued) any version of the story."""
        pipe = self.redis.pipeline(transaction=False)
        for s in subscription_ids:
            pipe.zscore(self.key(s, "got"), uri)
        scores = await pipe.execute()
        return [s for s, score in zip(subscription_ids, scores, strict=True) if score is not None]

    def _keep_fresh(self, delivery: Delivery, own: int, body: int) -> None:
        """Keep a copy of a delivery whose record is ``own`` bytes around a body of ``body``."""
        fresh = self._fresh
        self._forget_fresh(delivery.id)
        fresh[delivery.id] = (delivery, own + body, own)
        held = self._fresh_bodies.get(id(delivery.body))
        if held is None:
            self._fresh_bodies[id(delivery.body)] = [1, body]
            self._fresh_bytes += own + body
        else:
            held[0] += 1
            self._fresh_bytes += own
        while len(fresh) > FRESH_COPIES_MAX or self._fresh_bytes > FRESH_BYTES_MAX:
            self._drop_fresh(fresh.popitem(last=False)[1])

    def _forget_fresh(self, delivery_id_: str) -> tuple[Delivery, int, int] | None:
        copy = self._fresh.pop(delivery_id_, None)
        if copy is not None:
            self._drop_fresh(copy)
        return copy

    def _drop_fresh(self, copy: tuple[Delivery, int, int]) -> None:
        delivery, _, own = copy
        self._fresh_bytes -= own
        held = self._fresh_bodies[id(delivery.body)]
        held[0] -= 1
        if not held[0]:
            del self._fresh_bodies[id(delivery.body)]
            self._fresh_bytes -= held[1]

    async def claim(self, subscription_id: str, limit: int,
                    lease_ms: int) -> tuple[list[Delivery], float | None]:
        """Claim up to ``limit`` due deliveries; also returns seconds until the next one is due."""
        return await self.complete_and_claim(subscription_id, [], limit, lease_ms)

    async def complete_and_claim(self, subscription_id: str, delivered: Sequence[Delivery],
                                 limit: int,
                                 lease_ms: int) -> tuple[list[Delivery], float | None]:
        """Mark ``delivered`` (deliveries of this subscription answered 2xx) as delivered, then
        claim up to ``limit`` due deliveries: one script call. Also returns seconds until the
        next one is due (None: nothing queued, or nothing asked for).

        A delivery queued by this process and never attempted since is not read back: the
        script answers the length of each record instead of the record, and the copy kept at
        queueing is claimed if its length is the record's. Any other record is read after the
        call, in one round trip (never in it: see _COMPLETE_CLAIM).

        Equal lengths mean an unchanged record. A copy is kept only of a delivery this process
        queued (`enqueue`), so it is the record's bytes as queued, in first: ``attempts`` empty,
        ``status`` "queued", ``reason`` null. Only three paths rewrite a record, each from the
        record as it was with every other field as it was, and each into rec, whose length the
        claim answers first: a retry appends the failed attempt and leaves status and reason
        alone; a dead letter appends it too, sets status "dead" and a reason, and takes the
        delivery out of due, so it is not claimed again until a replay, which sets status
        "queued" and reason null again and appends a "replayed" entry. So a record that can be
        claimed and was rewritten holds what the queued one holds, its body escaped as a JSON
        string (no shorter than as it is, and in quotes under its own key), and a non-empty
        ``attempts`` list: it is longer. (Until `enqueue`'s call answers, a copy of a delivery
        queued already is kept too; it is, as a record dropped by a kill and queued again, the
        same delivery of the same event, with the same body. So is a record in first that
        another enqueue of the same delivery, a re-read of its entry, wrote over meanwhile: only
        its ``created_ms`` can differ, which is not sent.)"""
        s = subscription_id
        out = await self._complete_claim(
            keys=[self.key(s, "due"), self.key(s, "rec"), self.key(s, "sent"),
                  self.key(s, "stats"), self.key(s, "first"),
                  *[self.story_key(s, d.uri) for d in delivered]],
            args=[limit, lease_ms, *[d.id for d in delivered]])
        now, next_due = int(out[0]), int(out[1])
        claimed: list[Delivery] = []
        unknown: list[str] = []
        for i in range(2, len(out), 2):
            delivery_id_ = _text(out[i])
            copy = self._forget_fresh(delivery_id_)
            if copy is not None and copy[1] == out[i + 1]:
                claimed.append(copy[0])
            else:
                unknown.append(delivery_id_)
        if unknown:  # leased to us by the call above: nobody else rewrites them meanwhile
            claimed += [d for d in await self._records(s, unknown) if d is not None]
        wait = None if next_due < 0 else max(0.0, (next_due - now) / 1000)
        return claimed, wait

    async def renew(self, subscription_id: str, ids: list[str], lease_ms: int) -> None:
        """Extend the lease of deliveries still being sent."""
        await self._renew(keys=[self.key(subscription_id, "due")], args=[lease_ms, *ids])

    async def retry(self, d: Delivery, delay_s: float, status: int | None = None) -> bool:
        s = d.subscription
        return bool(await self._retry(
            keys=[self.key(s, "due"), self.key(s, "rec"), self.key(s, "stats"),
                  self.key(s, "first")],
            args=[d.id, d.to_json(), int(delay_s * 1000), status or 0]))

    async def dead_letter(self, d: Delivery, reason: str, status: int | None = None) -> bool:
        d.status, d.reason = "dead", reason
        s = d.subscription
        return bool(await self._dead(
            keys=[self.key(s, "due"), self.key(s, "rec"), self.key(s, "stats"),
                  self.key(s, "dead"), self.key(s, "first")],
            args=[d.id, d.to_json(), "", status or 0]))

    async def release(self, d: Delivery) -> None:
        await self._release(keys=[self.key(d.subscription, "due")], args=[d.id])

    async def replay(self, delivery: str) -> bool:
        """Queue a dead-lettered delivery again (its history is kept); False if not dead."""
        s = subscription_of(delivery)
        d = await self.record(delivery)
        if d is None or d.status != "dead":
            return False
        d.status, d.reason = "queued", None
        d.attempts.append({"at": _now_iso(), "replayed": True})
        return bool(await self._replay(keys=[self.key(s, "due"), self.key(s, "rec"),
                                             self.key(s, "dead")], args=[d.id, d.to_json()]))

    async def dead_ids(self, subscription_id: str) -> list[str]:
        return [_text(i) for i in await self.redis.zrange(self.key(subscription_id, "dead"), 0, -1)]

    async def list(self, subscription_id: str, status: str, limit: int) -> list[Delivery]:
        """Queued (next due first) or dead (latest first) deliveries of one subscription."""
        ids: Any
        if status == "dead":
            ids = await self.redis.zrevrange(self.key(subscription_id, "dead"), 0, limit - 1)
        else:
            ids = await self.redis.zrange(self.key(subscription_id, "due"), 0, limit - 1)
        if not ids:
            return []
        return [d for d in await self._records(subscription_id, ids) if d is not None]

    async def record(self, delivery: str) -> Delivery | None:
        """A delivery as stored (None: not queued, nor dead)."""
        (found,) = await self._records(subscription_of(delivery), [delivery])
        return found

    async def _records(self, subscription_id: str,
                       ids: Sequence[Any]) -> Sequence[Delivery | None]:
        """These deliveries, each from rec (rewritten after an attempt) or else from first (as
        queued): one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hmget(self.key(subscription_id, "rec"), ids)
        pipe.hmget(self.key(subscription_id, "first"), ids)
        rewritten, queued = await pipe.execute()
        return [Delivery.from_json(a) if a is not None
                else None if b is None else Delivery.from_queued(b)
                for a, b in zip(rewritten, queued, strict=True)]

    async def depth(self, subscription_id: str) -> int:
        return int(await self.redis.zcard(self.key(subscription_id, "due")))

    async def total_depth(self, subscription_ids: Sequence[str]) -> int:
        """Queued or in-flight deliveries of all these subscriptions (one pipeline)."""
        if not subscription_ids:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for s in subscription_ids:
            pipe.zcard(self.key(s, "due"))
        return sum(int(n) for n in await pipe.execute())

    async def stats(self, subscription_id: str) -> dict[str, int]:
        """The subscription's delivery figures (see the key table)."""
        raw: Any = await self.redis.hgetall(self.key(subscription_id, "stats"))
        return {_text(k): int(v) for k, v in raw.items()}

    async def forget_old(self, subscription_id: str, story_memory_ms: int) -> None:
        now = int(time.time() * 1000)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(self.key(subscription_id, "sent"), "-inf", now - SENT_MEMORY_MS)
        pipe.zremrangebyscore(self.key(subscription_id, "got"), "-inf", now - story_memory_ms)
        await pipe.execute()

    async def drop_subscription(self, subscription_id: str) -> None:
        """Delete everything queued, dead-lettered or remembered for a deleted subscription.

        A tombstone, set first, stops a replica that has not yet heard of the deletion from
        queueing anything new for it (subscription ids are never reused)."""
        tombstone = self.key(subscription_id, "deleted")
        await self.redis.set(tombstone, b"1", ex=TOMBSTONE_S)
        keys = [k async for k in self.redis.scan_iter(match=self.key(subscription_id, "*"))
                if _text(k) != tombstone]
        if keys:
            await self.redis.delete(*keys)


# As many as the copies kept at queueing: a delivery queued here is settled with the digest
# its queueing computed, not a second sha256 (a story is one digest for all its subscriptions).
@functools.lru_cache(maxsize=FRESH_COPIES_MAX)
def _story_digest(uri: str) -> str:
    return hashlib.sha256(uri.encode()).hexdigest()[:24]


def _as_text(value: Any) -> str:
    """orjson's ``default`` for a record's body: bytes, written as the text they encode."""
    if isinstance(value, bytes):
        return value.decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
