"""What every fault test needs: the platform as processes, stories, and the end-state checks.

The checks are the same after every fault: each story answered ``202`` is stored once and
announced once on ``news.published``, nothing is left pending (or unread) in any group, and each
poison entry is in its stream's ``.dlq`` with its reason.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis
from pymongo import MongoClient

from shared.events import ENRICHED_STREAM, INGESTED_STREAM, PUBLISHED_STREAM

from newsflow_cli.platform import Platform, Process, read_events

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "000_23ba3fd990788c7e.txt"
PlatformFactory = Callable[..., AbstractContextManager[Platform]]
# Small idle and polling times, so that recovery takes seconds; many attempts, so that a
# story held up by a fault is retried rather than given up.
FAST = {"NEWSFLOW_RECLAIM_IDLE_MS": "3000", "NEWSFLOW_RECLAIM_INTERVAL_MS": "200",
        "NEWSFLOW_BLOCK_MS": "500", "NEWSFLOW_WORKERS": "1", "NEWSFLOW_MAX_ATTEMPTS": "20",
        "NEWSFLOW_GRACEFUL_TIMEOUT_S": "10"}
STREAMS = (INGESTED_STREAM, ENRICHED_STREAM, PUBLISHED_STREAM)


def stories(n: int, tag: str = "fault") -> tuple[list[str], bytes]:
    """n new stories (the sample text under fresh uris) as one JSON batch."""
    headline, _, body = SAMPLE.read_text().partition("\n")
    uris = [f"urn:{tag}:{secrets.token_hex(6)}" for _ in range(n)]
    batch = [{"uri": uri, "version": 1, "headline": headline.strip(), "body": body.strip()}
             for uri in uris]
    return uris, orjson.dumps(batch)


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"not before the deadline: {what}"
        time.sleep(0.2)


@dataclass
class Checks:
    """The platform under test and the assertions every fault test ends with."""

    plat: Platform
    redis_url: str
    stories = staticmethod(stories)
    wait_until = staticmethod(wait_until)

    def pushing_client(self, count: int) -> PushingClient:
        """A client that pushes ``count`` stories one by one to ingest (wherever it runs now)."""
        return PushingClient(lambda: self.plat.url("ingest"), self.plat.ingest_key, count)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_timeout=10)

    def stream(self, name: str) -> str:
        return self.plat.stream_prefix + name

    def announcements(self) -> Counter[str]:
        events = read_events(self.client(), self.stream(PUBLISHED_STREAM))
        return Counter(event.subject for _, event in events)

    def wait_published(self, uris: list[str], timeout: float = 120.0) -> None:
        def missing() -> set[str]:
            return set(uris) - set(self.announcements())
        wait_until(lambda: not missing(), timeout,
                   f"all published (logs in {self.plat.workdir})")

    def wait_settled(self, timeout: float = 60.0) -> None:
        """Nothing pending and nothing unread in any group of the three streams."""
        def busy() -> list[str]:
            client, left = self.client(), []
            for name in STREAMS:
                with contextlib.suppress(redis.ResponseError):  # no such stream yet
                    for group in client.xinfo_groups(self.stream(name)):
                        if group["pending"] or group.get("lag"):
                            left.append(f"{name}/{group['name'].decode()}: pending "
                                        f"{group['pending']}, lag {group.get('lag')}")
            return left
        wait_until(lambda: not busy(), timeout, f"groups settled: {busy()}")

    def assert_once(self, uris: list[str]) -> None:
        """Each story stored, and announced exactly once; then every group settled."""
        self.wait_published(uris)
        self.wait_settled()
        counts = self.announcements()
        assert {u: counts[u] for u in uris if counts[u] != 1} == {}
        assert self.plat.mongodb_uri
        with MongoClient(self.plat.mongodb_uri, serverSelectionTimeoutMS=10_000) as mongo:
            stored = {doc["_id"] for doc in mongo[self.plat.mongodb_db].articles.find(
                {"_id": {"$in": uris}}, {"_id": 1})}
        assert set(uris) - stored == set()

    def dead_letter(self, stream: str, entry_id: bytes | str) -> dict[bytes, bytes]:
        wanted = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        for _, fields in self.client().xrange(self.stream(stream) + ".dlq"):
            if fields.get(b"dlq_entry_id", b"").decode() == wanted:
                return dict(fields)
        raise AssertionError(f"{wanted} is not dead-lettered on {stream}.dlq")

    def start_replica(self, name: str, label: str) -> Process:
        """Another replica of a service, as ``plat.processes[label]``; the caller stops it."""
        first = self.plat.processes[name]
        replica = self.plat.start_service(name)
        self.plat.processes[name], self.plat.processes[label] = first, replica
        self.plat.wait_ready(timeout=180, names=(label,))
        return replica


@dataclass
class PushingClient:
    """A wire feed in a thread: pushes one story at a time and retries each until it is
    answered 202 (a connection error, a 5xx, an ingest being restarted)."""

    url: Callable[[], str]
    key: str
    count: int
    pause_s: float = 0.05
    accepted: list[str] = field(default_factory=list)
    retries: int = 0
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def __enter__(self) -> PushingClient:
        self._thread = threading.Thread(target=self._run, name="pushing-client")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.join()

    def join(self, timeout: float = 180.0) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the client is still pushing"
        if self._error:
            raise self._error

    def _run(self) -> None:
        try:
            for _ in range(self.count):
                [uri], body = stories(1, "push")
                self._push(body)
                self.accepted.append(uri)
                time.sleep(self.pause_s)
        except BaseException as exc:
            self._error = exc

    def _push(self, body: bytes) -> None:
        deadline = time.monotonic() + 120
        while True:
            try:
                response = httpx.post(f"{self.url()}/v1/articles", content=body, timeout=10,
                                      headers={"Authorization": f"Bearer {self.key}",
                                               "Content-Type": "application/json"})
                if response.status_code == 202:
                    return
                assert response.status_code >= 500, response.text  # 4xx: the test is wrong
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "ingest never took the story"
            self.retries += 1
            time.sleep(0.2)


@pytest.fixture(scope="session")
def fast_env() -> dict[str, str]:
    """The settings every fault test runs the services with (see FAST)."""
    return dict(FAST)


@pytest.fixture(scope="session")
def make_checks() -> type[Checks]:
    """``make_checks(platform, redis_url)``, for a test that runs a platform of its own."""
    return Checks


@pytest.fixture(scope="session")
def fault_platform(tmp_path_factory: pytest.TempPathFactory, redis_url: str,
                   isolated_platform: PlatformFactory) -> Iterator[Checks]:
    """One platform (with an nx-27017 of its own, which tests may stop) for the fault tests
    that can share it: starting one costs tens of seconds. Each test uses its own stories."""
    with isolated_platform(tmp_path_factory.mktemp("faults"), redis_url, None, **FAST) as plat:
        yield Checks(plat, redis_url)


@pytest.fixture
def checks(fault_platform: Checks) -> Iterator[Checks]:
    """The shared platform, with every service and the store running again after the test."""
    yield fault_platform
    plat = fault_platform.plat
    for label in [k for k in plat.processes if "#" in k]:
        plat.processes.pop(label).stop()
    for name, process in list(plat.processes.items()):
        if process.popen.poll() is not None:
            if name == "mongo":
                assert plat.mongodb_uri
                plat.start_mongo(port=int(plat.mongodb_uri.rsplit(":", 1)[1]))
            else:
                plat.start_service(name)
    plat.wait_ready(timeout=180)
