"""deliver killed (SIGKILL) in the middle of a burst of webhook deliveries, then started again.

Deliver settles answered attempts in batches (see ``deliver.delivery``): a delivery answered 2xx
stays leased until its batch is settled. After the kill, every delivery must still arrive; the
only ones sent again are those answered before the kill and not yet settled (they come back
when their lease runs out), never one already settled, and no more of them than a worker may
hold unsettled plus its requests in flight.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from shared.article import Article, Source
from shared.events import PUBLISHED_STREAM, ArticlePublished

from deliver.delivery import SETTLE_MAX
from newsflow_cli.platform import Platform, free_port

pytestmark = pytest.mark.e2e
PlatformFactory = Callable[..., AbstractContextManager[Platform]]
ADMIN_KEY = "fault-admin-key"
IN_FLIGHT = 8
STORIES = 600
ENV = {
    "NEWSFLOW_ADMIN_KEY": ADMIN_KEY,
    "NEWSFLOW_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "NEWSFLOW_WEBHOOK_MAX_IN_FLIGHT": str(IN_FLIGHT),
    "NEWSFLOW_WEBHOOK_CONNECT_TIMEOUT_S": "0.5",
    "NEWSFLOW_WEBHOOK_READ_TIMEOUT_S": "1",
    "NEWSFLOW_WEBHOOK_CLAIM_LEASE_S": "3",  # what a killed replica's unsettled sends wait out
    "NEWSFLOW_WEBHOOK_POLL_INTERVAL_S": "0.1",
    "NEWSFLOW_BLOCK_MS": "100",
    "NEWSFLOW_RECLAIM_IDLE_MS": "1000",
    "NEWSFLOW_RECLAIM_INTERVAL_MS": "200",
}


class Hook:
    """A receiver on loopback that answers 204 and counts each webhook-id it was sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with hook.lock:
                    hook.seen[self.headers["webhook-id"]] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.seen)


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def _wait(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not before the deadline: {what}"
        time.sleep(0.05)


def _quiet(hook: Hook, for_s: float = 0.5) -> Counter[str]:
    """The hook's counts once they have not changed for `for_s`. Requests the killed process
    wrote before it died can still be in the receiver's socket buffers, read by its threads
    after the kill: counted any earlier, such a request looks like one the new process sent
    twice."""
    last = hook.counts()
    while True:
        time.sleep(for_s)
        now = hook.counts()
        if now == last:
            return now
        last = now


def test_deliver_killed_mid_burst_loses_nothing_and_repeats_no_settled_delivery(
        tmp_path: Path, redis_url: str, mongodb_uri: str, hook: Hook,
        isolated_platform: PlatformFactory) -> None:
    with isolated_platform(tmp_path, redis_url, mongodb_uri, services=("deliver",),
                           **ENV) as plat:
        with httpx.Client(base_url=plat.url("deliver"), timeout=10,
                          headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as api:
            response = api.post("/v1/subscriptions",
                                json={"url": f"http://127.0.0.1:{hook.port}/hook"})
            assert response.status_code == 201, response.text
            sub = response.json()["id"]
        time.sleep(0.05)  # announced after the subscription was made (whole milliseconds)
        client = redis.Redis.from_url(redis_url)
        events = [ArticlePublished.for_article(Article(
            uri=f"urn:crash:{n}", version=1, source=Source(provider="crash", format="json"),
            headlines=[{"value": f"story {n}"}], bodies=[{"value": "Text. " * 200}],
            language="en"), "test") for n in range(STORIES)]
        pipe = client.pipeline(transaction=False)
        for event in events:
            pipe.xadd(plat.stream_prefix + PUBLISHED_STREAM, event.to_fields())
        pipe.execute()
        expected = {f"{sub}_{event.id}" for event in events}

        _wait(lambda: len(hook.counts()) >= STORIES // 4, 60, "a quarter delivered")
        deliver = plat.processes["deliver"]
        os.kill(deliver.popen.pid, signal.SIGKILL)
        deliver.popen.wait(10)
        before = _quiet(hook)
        settled = {member.decode() for member in client.zrange(
            f"{plat.stream_prefix}webhooks:{{{sub}}}:sent", 0, -1)}
        assert before and len(before) < STORIES  # killed mid-burst
        assert settled <= set(before)

        plat.start_service("deliver")
        plat.wait_ready(timeout=60, names=("deliver",))
        due = f"{plat.stream_prefix}webhooks:{{{sub}}}:due"
        _wait(lambda: set(hook.counts()) == expected and client.zcard(due) == 0, 120,
              f"every delivery sent and none left queued (logs in {plat.workdir})")
        time.sleep(0.5)
        after = hook.counts()

    assert set(after) == expected  # nothing lost
    repeated = {i for i, n in after.items() if n > 1}
    assert repeated & settled == set()  # a settled 2xx is never sent again
    assert repeated <= set(before)  # only what the killed process had sent is sent again
    assert max(after.values()) <= 2
    assert len(repeated) <= SETTLE_MAX + IN_FLIGHT
