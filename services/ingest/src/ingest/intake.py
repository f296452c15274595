"""Intake: deduplicate parsed articles and append them durably to ``news.ingested``.

Redis keys it owns (under the stream prefix):

    newsflow:ingest:seen:<source>|<uri>|<version or content hash>   event id; dedupe marker
    newsflow:ingest:owner:<uri>     hash: o = owning namespace, v = highest version accepted
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import structlog
from redis.asyncio import Redis
from redis.typing import EncodableT

from shared.article import Article
from shared.events import INGESTED_STREAM, ArticleIngested
from shared.scripts import run_scripts

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
        calls = []
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
            if self.waitaof and 1 in outcomes:
                await self.redis.execute_command("WAITAOF", 1, 0, WAITAOF_TIMEOUT_MS)
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

    async def _append_all(self, calls: list[tuple[list[str], list[EncodableT]]]) -> list[int]:
        """The script once per story, in one round trip (see `run_scripts`)."""
        results = await run_scripts(self.redis, [(self._append, k, a) for k, a in calls])
        return [int(r) for r in results]

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
