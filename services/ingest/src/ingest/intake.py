"""Intake: deduplicate parsed articles and append them durably to ``news.ingested``.

Redis keys it owns (under the stream prefix):

    newsflow:ingest:seen:<source>|<uri>|<version or content hash>   event id; dedupe marker
    newsflow:ingest:owner:<uri>     hash: o = owning namespace, v = highest version accepted
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal, cast

import structlog
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError
from redis.typing import EncodableT

from shared.article import Article
from shared.events import INGESTED_STREAM, ArticleIngested

from ingest.errors import Forbidden, IngestError, InvalidArticle

log = structlog.get_logger()

SEEN_PREFIX = "newsflow:ingest:seen:"
OWNER_PREFIX = "newsflow:ingest:owner:"
EVENT_SOURCE = "newsflow/ingest"
DEFAULT_MAX_VERSION_JUMP = 10**15
WAITAOF_TIMEOUT_MS = 500

# KEYS: stream, seen key, owner key; ARGV: ttl, event id, owner, version ('' when none),
# max version jump, then the entry's fields and values.
# -> 1 appended, 0 the key was seen, -1 the uri belongs to another owner, -2 the version jumps
# too far. One script, so two ingest replicas given the same story at the same moment append
# it once, and two sources racing for a new uri cannot both own it.
_APPEND_ONCE = """
local owner = redis.call('HGET', KEYS[3], 'o')
if owner and owner ~= ARGV[3] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if ARGV[4] ~= '' then
  local top = redis.call('HGET', KEYS[3], 'v')
  local base = top and tonumber(top) or 0
  if tonumber(ARGV[4]) > base + tonumber(ARGV[5]) then return -2 end
  if not top or tonumber(ARGV[4]) > tonumber(top) then
    redis.call('HSET', KEYS[3], 'v', ARGV[4])
  end
end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 6))
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[1])
redis.call('HSET', KEYS[3], 'o', ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[1])
return 1
"""
Status = Literal["accepted", "duplicate", "forbidden", "refused"]
_STATUS: dict[int, Status] = {1: "accepted", 0: "duplicate", -1: "forbidden", -2: "refused"}
_Call = tuple[list[str], list[EncodableT]]  # one story's script: keys, args
_Waiter = tuple[list[_Call], asyncio.Future[list[int]]]  # one request's scripts, its outcomes


@dataclass(frozen=True)
class IntakeResult:
    uri: str
    version: int | None
    status: Status
    event_id: str
    error: IngestError | None = None  # why a forbidden or refused story was not taken

    @property
    def taken(self) -> bool:
        """The story is in the stream (now or from before)."""
        return self.error is None

    def wire(self) -> dict[str, object]:
        return {
            "uri": self.uri,
            "version": self.version,
            "status": self.status,
            "event_id": self.event_id,
        }


class Intake:
    """Appends each new article version to the ingested stream exactly once per key.

    A repeat of (source, uri, version), or of the content when there is no version, is a
    no-op reported as ``duplicate``. A story belongs to the owner (the source, or the shared
    namespace of its source) that first sent it: another owner's versions and kills are
    ``forbidden``. A version more than ``max_version_jump`` above the highest one taken (or,
    for a new story, above it) is ``refused``, so that nobody can end a chain for good with
    version 2^62-1. The ownership and version checks, the look-up, the event and the
    seen-marker are one script per story, whichever replica got it.

    The scripts of requests that arrive while an earlier round trip is in flight go to Redis
    together, in one pipeline, as soon as it returns (see `_flush`): under load, a round trip
    and redis-py's work per command cost several stories a share instead of one each, and
    nothing waits for a batch to fill. Each story's script stays atomic on its own, and each
    request is answered from its own stories' outcomes.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        stream: str = INGESTED_STREAM,
        namespace: str = "",
        dedupe_ttl_s: int = 30 * 24 * 3600,
        waitaof: bool = False,
        max_version_jump: int = DEFAULT_MAX_VERSION_JUMP,
        shared_namespaces: dict[str, list[str]] | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.redis = redis
        self.timeout_s = timeout_s
        self.stream = stream
        self.seen_prefix = namespace + SEEN_PREFIX
        self.owner_prefix = namespace + OWNER_PREFIX
        self.dedupe_ttl_s = dedupe_ttl_s
        self.waitaof = waitaof
        self.max_version_jump = max_version_jump
        self._append = redis.register_script(_APPEND_ONCE)
        self._waiting: list[_Waiter] = []  # requests whose scripts are not sent yet
        self._flusher: asyncio.Task[None] | None = None
        # Bound once, as configured now: one line per story, without the lazy proxy's work.
        self._log = log.bind()
        self._namespace_of = {
            source: name
            for name, members in (shared_namespaces or {}).items()
            for source in members
        }

    async def submit(self, articles: list[Article]) -> list[IntakeResult]:
        articles = [self._owned(a) for a in articles]
        keys = [a.idempotency_key() for a in articles]
        event_ids = [ArticleIngested.article_event_id(key) for key in keys]
        calls: list[_Call] = []
        for article, key, event_id in zip(articles, keys, event_ids, strict=True):
            fields = ArticleIngested.article_fields(article, EVENT_SOURCE, event_id)
            version = "" if article.version is None else str(article.version)
            calls.append(
                (
                    [self.stream, self.seen_prefix + key, self.owner_prefix + article.uri],
                    [
                        self.dedupe_ttl_s,
                        event_id,
                        article.source.owner,
                        version,
                        self.max_version_jump,
                        *(part for pair in fields.items() for part in pair),
                    ],
                )
            )
        async with asyncio.timeout(self.timeout_s):  # TimeoutError past it
            outcomes = await self._append_all(calls)
        results = [
            self._result(article, event_id, outcome)
            for article, event_id, outcome in zip(articles, event_ids, outcomes, strict=True)
        ]
        for result in results:
            self._log.info(
                "article.ingested",
                article_id=result.uri,
                version=result.version,
                status=result.status,
                event_id=result.event_id,
            )
        return results

    async def _append_all(self, calls: list[_Call]) -> list[int]:
        """The script once per story: sent with the other requests' waiting ones by `_flush`.
        Cancelling the wait (the caller's timeout) leaves the batch to go on for the others."""
        if not calls:
            return []
        waiter: _Waiter = (calls, asyncio.get_running_loop().create_future())
        self._waiting.append(waiter)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await waiter[1]

    async def _flush(self) -> None:
        """Sends what waits, one pipeline per round trip, until nothing waits.

        Every round trip is bounded by the intake's timeout, so that a frozen Redis cannot hold
        the batches behind it after their senders got a 503. An error reaches only the requests
        it concerns: an error reply only the request of that story; a lost connection, the
        timeout or a failed WAITAOF every request of the batch."""
        batch: list[_Waiter] = []
        try:
            while self._waiting:
                batch = [w for w in self._waiting if not w[1].done()]  # done: gave up waiting
                self._waiting = []
                if not batch:
                    continue
                try:
                    async with asyncio.timeout(self.timeout_s):
                        replies = await self._run([call for calls, _ in batch for call in calls])
                except Exception as exc:  # each request raises it as its own
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                start = 0
                for calls, future in batch:
                    mine = replies[start : start + len(calls)]
                    start += len(calls)
                    if future.done():
                        continue
                    failed = next((r for r in mine if isinstance(r, Exception)), None)
                    if failed is not None:
                        future.set_exception(failed)
                    else:
                        future.set_result([int(cast(int, r)) for r in mine])
        finally:
            self._flusher = None
            for _, future in batch + self._waiting:  # left unanswered only if cancelled
                future.cancel()
            self._waiting = []

    async def _run(self, calls: list[_Call]) -> list[object]:
        """The replies to these scripts, in order, error replies as exceptions in the list.

        A script Redis does not know (restarted, flushed) is loaded and its calls run again:
        NOSCRIPT means they did not run. (Not redis-py's pipelined scripts, which ask
        ``SCRIPT EXISTS`` first, a second round trip every time.) WAITAOF, when asked for, ends
        the pipeline: it waits for the writes of its own connection, which are the batch's."""
        pipe = self.redis.pipeline(transaction=False)
        for keys, args in calls:
            pipe.evalsha(self._append.sha, len(keys), *keys, *args)
        if self.waitaof:
            pipe.execute_command("WAITAOF", 1, 0, WAITAOF_TIMEOUT_MS)
        replies: list[object] = await pipe.execute(raise_on_error=False)
        if self.waitaof and isinstance(replies[-1], Exception):
            raise replies[-1]
        reloaded = False
        for index, reply in enumerate(replies[: len(calls)]):
            if isinstance(reply, NoScriptError):
                keys, args = calls[index]
                try:
                    replies[index] = await self._append(keys=keys, args=args)  # loads it
                except ResponseError as exc:
                    replies[index] = exc
                reloaded = True
        if self.waitaof and reloaded:
            await self.redis.execute_command("WAITAOF", 1, 0, WAITAOF_TIMEOUT_MS)
        return replies[: len(calls)]

    def _owned(self, article: Article) -> Article:
        """The article with the namespace its source shares with others, if any."""
        name = self._namespace_of.get(article.source.provider)
        if name is None or article.source.namespace == name:
            return article
        source = article.source.model_copy(update={"namespace": name})
        return article.model_copy(update={"source": source})

    def _result(self, article: Article, event_id: str, outcome: int) -> IntakeResult:
        status = _STATUS[outcome]
        error: IngestError | None = None
        if status == "forbidden":
            error = Forbidden(
                f"{article.uri!r} belongs to another source; a source may send "
                "versions and kills of its own stories only",
                field="uri",
            )
        elif status == "refused":
            error = InvalidArticle(
                f"version {article.version} of {article.uri!r} is more than "
                f"{self.max_version_jump} above the highest version taken so far (or above "
                "it for a new story); send the next version of the chain",
                field="version",
            )
        return IntakeResult(article.uri, article.version, status, event_id, error)
