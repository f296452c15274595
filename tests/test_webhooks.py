"""Webhooks end to end: publish and deliver as processes, real HTTP receivers on loopback.

Stories go in on news.enriched; publish announces them on news.published; deliver (its own
process, the ``webhooks`` group) sends them. Signatures are checked with the ``standardwebhooks``
reference implementation, never with Newsflow's own code. One platform serves most tests (each
test filters on its own source id, so a test only sees its own stories); the restart test runs
its own.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis
from standardwebhooks import Webhook
from typer.testing import CliRunner

from shared.article import Article, Entity, PubStatus, Source, Subject
from shared.events import ENRICHED_STREAM, PUBLISHED_STREAM, ArticleEnriched

from newsflow_cli.main import app as cli
from newsflow_cli.platform import Platform, free_port

pytestmark = pytest.mark.e2e

ADMIN_KEY = "test-admin-" + secrets.token_hex(8)
FAST = {
    "NEWSFLOW_ADMIN_KEY": ADMIN_KEY,
    "NEWSFLOW_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "NEWSFLOW_WEBHOOK_RETRY_SCHEDULE_S": "0.05,0.05,0.05",
    "NEWSFLOW_WEBHOOK_POLL_INTERVAL_S": "0.1",
    "NEWSFLOW_WEBHOOK_CONNECT_TIMEOUT_S": "1",
    "NEWSFLOW_WEBHOOK_READ_TIMEOUT_S": "1",
    "NEWSFLOW_WEBHOOK_CLAIM_LEASE_S": "5",
    "NEWSFLOW_SUBSCRIPTION_REFRESH_S": "1",
    "NEWSFLOW_BLOCK_MS": "100",
    "NEWSFLOW_RECLAIM_IDLE_MS": "3000",
    "NEWSFLOW_RECLAIM_INTERVAL_MS": "200",
}
TOPIC = "medtop:04000000"
OTHER_TOPIC = "medtop:15000000"


# -- a real HTTP receiver --------------------------------------------------------------------

@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> dict[str, Any]:
        return orjson.loads(self.body)  # type: ignore[no-any-return]


Script = Callable[[int], tuple[int, dict[str, str], float]]  # n -> (status, headers, delay)


class Receiver:
    """An http.server on loopback that answers by script and records every request."""

    def __init__(self, script: Script | None = None, port: int | None = None) -> None:
        self.script: Script = script or (lambda n: (200, {}, 0.0))
        self.port = port or free_port()
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    n = len(receiver.requests)
                    status, headers, delay = receiver.script(n)
                    receiver.requests.append(Received(time.time(), {
                        k.lower(): v for k, v in self.headers.items()}, body, status))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.server = server
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait(self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(list(self.requests)):
                    return
            time.sleep(0.02)
        raise AssertionError(f"receiver: condition not met in {timeout}s; got "
                             f"{[(r.status, r.headers.get('webhook-id')) for r in self.requests]}")


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        receiver.stop()


def receiver(receivers: list[Receiver], script: Script | None = None,
             port: int | None = None, start: bool = True) -> Receiver:
    r = Receiver(script, port)
    receivers.append(r)
    return r.start() if start else r


# -- publish and deliver as processes -------------------------------------------------------

@pytest.fixture(scope="module")
def plat(tmp_path_factory: pytest.TempPathFactory, redis_url: str, mongodb_uri: str,
         isolated_platform: Callable[..., AbstractContextManager[Platform]]
         ) -> Iterator[Platform]:
    with isolated_platform(tmp_path_factory.mktemp("webhooks"), redis_url, mongodb_uri,
                           services=("publish", "deliver"), **FAST) as platform:
        yield platform


def admin(plat: Platform) -> httpx.Client:
    return httpx.Client(base_url=plat.url("deliver"), timeout=10,
                        headers={"Authorization": f"Bearer {ADMIN_KEY}"})


def subscribe(plat: Platform, url: str, **filters: Any) -> dict[str, Any]:
    with admin(plat) as api:
        response = api.post("/v1/subscriptions", json={"url": url, "filters": filters})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def story(uri: str, provider: str, *, version: int = 1, topics: tuple[str, ...] = (TOPIC,),
          killed: bool = False, people: tuple[str, ...] = ()) -> ArticleEnriched:
    if killed:
        article = Article(uri=uri, version=version, pub_status=PubStatus.canceled,
                          source=Source(provider=provider, format="json"),
                          headlines=[{"value": "Withdrawn"}])
    else:
        article = Article(
            uri=uri, version=version, source=Source(provider=provider, format="json"),
            headlines=[{"value": f"{uri} v{version}"}],
            bodies=[{"value": "Text \u2014 caf\u00e9, \u2603 and \"quotes\"\nover two lines."}],
            language="en", urgency=3, version_created=datetime.now(UTC),
            subjects=[Subject(code=t, name="topic") for t in topics],
            people=[Entity(name=p, type="person") for p in people])
    return ArticleEnriched.for_article(article, "test")  # type: ignore[return-value]


def push(plat: Platform, *events: ArticleEnriched) -> None:
    client = redis.Redis.from_url(plat.redis_url)
    for event in events:
        client.xadd(plat.stream_prefix + ENRICHED_STREAM, event.to_fields())


def published_at(plat: Platform) -> dict[str, float]:
    """ce_id of each news.published event -> the time its entry was added (seconds)."""
    client = redis.Redis.from_url(plat.redis_url)
    entries = client.xrange(plat.stream_prefix + PUBLISHED_STREAM)
    return {fields[b"ce_id"].decode(): int(entry_id.split(b"-")[0]) / 1000
            for entry_id, fields in entries}


def ok(requests: list[Received]) -> list[Received]:
    return [r for r in requests if 200 <= r.status < 300]


def verify(secret: str, request: Received) -> dict[str, Any]:
    result: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return result


def src() -> str:
    return "src-" + secrets.token_hex(4)


# -- tests -----------------------------------------------------------------------------------

def test_a_failing_receiver_gets_one_success_with_the_same_signed_webhook_id(
        plat: Platform, receivers: list[Receiver]) -> None:
    hook = receiver(receivers, lambda n: (500, {}, 0.0) if n < 2 else (200, {}, 0.0))
    source = src()
    sub = subscribe(plat, hook.url, sources=[source])
    assert sub["secret"].startswith("whsec_")
    push(plat, story(f"urn:wh:{source}:1", source))

    hook.wait(lambda rs: len(ok(rs)) == 1)
    time.sleep(0.5)  # nothing more may come
    assert [r.status for r in hook.requests] == [500, 500, 200]
    assert len({r.headers["webhook-id"] for r in hook.requests}) == 1
    # the same bytes on every attempt, the retries' read back from Redis (not all ASCII)
    assert len({r.body for r in hook.requests}) == 1 and not hook.requests[0].body.isascii()
    assert sub["id"] in hook.requests[0].headers["webhook-id"]
    for request in hook.requests:
        payload = verify(sub["secret"], request)
        assert payload["type"] == "article.published"
        assert payload["data"]["uri"] == f"urn:wh:{source}:1"
        datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 32).verify(hook.requests[-1].body, hook.requests[-1].headers)


def test_metrics_count_outcomes_without_subscription_labels_and_stats_stay_in_redis(
        plat: Platform, receivers: list[Receiver]) -> None:
    hook = receiver(receivers, lambda n: (503, {}, 0.0) if n < 1 else (200, {}, 0.0))
    source = src()
    sub = subscribe(plat, hook.url, sources=[source])
    push(plat, story(f"urn:wh:{source}:1", source))
    hook.wait(lambda rs: len(ok(rs)) == 1)
    client = redis.Redis.from_url(plat.redis_url)
    stats_key = f"{plat.stream_prefix}webhooks:{{{sub['id']}}}:stats"
    deadline = time.monotonic() + 10
    while client.hget(stats_key, "delivered") != b"1":
        assert time.monotonic() < deadline, client.hgetall(stats_key)
        time.sleep(0.05)
    assert client.hget(stats_key, "failed_attempts") == b"1"
    assert client.hget(stats_key, "last_status") == b"503"
    metrics = httpx.get(f"{plat.url('deliver')}/metrics", timeout=10).text
    assert 'newsflow_webhook_attempts_total{outcome="delivered"}' in metrics
    assert 'newsflow_webhook_attempts_total{outcome="http_error"}' in metrics
    assert "subscription=" not in metrics and sub["id"] not in metrics


def test_a_hanging_subscriber_does_not_delay_a_healthy_one(
        plat: Platform, receivers: list[Receiver]) -> None:
    hanging = receiver(receivers, lambda n: (200, {}, 3.0))  # read timeout is 1s
    healthy = receiver(receivers)
    source = src()
    subscribe(plat, hanging.url, sources=[source])
    subscribe(plat, healthy.url, sources=[source])
    events = [story(f"urn:wh:{source}:{n}", source) for n in range(8)]
    push(plat, *events)

    healthy.wait(lambda rs: len(rs) == 8)
    announced = published_at(plat)
    delays = [r.at - announced[_event_id(r)] for r in healthy.requests]
    assert max(delays) < 1.0, delays
    # Meanwhile the hanging one was being called (and held its requests for seconds).
    assert hanging.requests and hanging.requests[0].at < max(r.at for r in healthy.requests)


def _event_id(request: Received) -> str:
    return request.headers["webhook-id"].rsplit("_", 1)[1]


def test_410_disables_the_subscription(plat: Platform, receivers: list[Receiver]) -> None:
    hook = receiver(receivers, lambda n: (410, {}, 0.0))
    source = src()
    sub = subscribe(plat, hook.url, sources=[source])
    push(plat, story(f"urn:wh:{source}:1", source))
    hook.wait(lambda rs: len(rs) == 1)

    with admin(plat) as api:
        deadline = time.monotonic() + 5
        while api.get(f"/v1/subscriptions/{sub['id']}").json()["enabled"]:
            assert time.monotonic() < deadline, "still enabled"
            time.sleep(0.05)
        shown = api.get(f"/v1/subscriptions/{sub['id']}").json()
        assert "410" in shown["disabled_reason"]
        dead = api.get("/v1/deliveries", params={"subscription": sub["id"]}).json()["items"]
    assert [d["attempts"][0]["status"] for d in dead] == [410]
    push(plat, story(f"urn:wh:{source}:2", source))
    time.sleep(1.0)
    assert len(hook.requests) == 1  # a disabled subscription is not called again


def test_retry_after_is_honoured(plat: Platform, receivers: list[Receiver]) -> None:
    hook = receiver(receivers, lambda n: (503, {"Retry-After": "1"}, 0.0) if n == 0
                    else (200, {}, 0.0))
    source = src()
    subscribe(plat, hook.url, sources=[source])
    push(plat, story(f"urn:wh:{source}:1", source))
    hook.wait(lambda rs: len(ok(rs)) == 1)
    gap = hook.requests[1].at - hook.requests[0].at
    assert 0.95 <= gap < 3.0, gap  # the schedule alone would retry within 0.05s


def test_rotation_sends_both_signatures_and_both_verify(
        plat: Platform, receivers: list[Receiver]) -> None:
    hook = receiver(receivers)
    source = src()
    sub = subscribe(plat, hook.url, sources=[source])
    with admin(plat) as api:
        rotated = api.post(f"/v1/subscriptions/{sub['id']}/rotate").json()
        assert "secret" not in api.get(f"/v1/subscriptions/{sub['id']}").json()
    assert rotated["secret"] != sub["secret"] and rotated["secret"].startswith("whsec_")
    assert "previous_secret_expires_at" in rotated
    push(plat, story(f"urn:wh:{source}:1", source))
    hook.wait(lambda rs: len(rs) == 1)

    request = hook.requests[0]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verify(sub["secret"], request)["data"]["uri"] == f"urn:wh:{source}:1"
    assert verify(rotated["secret"], request)["data"]["uri"] == f"urn:wh:{source}:1"


def test_a_kill_reaches_whoever_got_the_story_even_off_filter(
        plat: Platform, receivers: list[Receiver]) -> None:
    got_it, never_got_it = receiver(receivers), receiver(receivers)
    source = src()
    sub = subscribe(plat, got_it.url, sources=[source], topics=[TOPIC])
    subscribe(plat, never_got_it.url, sources=[source], topics=[OTHER_TOPIC])
    uri = f"urn:wh:{source}:1"
    push(plat, story(uri, source, topics=(TOPIC,)))
    got_it.wait(lambda rs: len(rs) == 1)
    with admin(plat) as api:  # its filters no longer match the story at all
        api.patch(f"/v1/subscriptions/{sub['id']}", json={"filters": {"topics": [OTHER_TOPIC]}})
    push(plat, story(uri, source, version=2, killed=True))

    got_it.wait(lambda rs: len(rs) == 2)
    kill = verify(sub["secret"], got_it.requests[1])
    assert kill["type"] == "article.killed"
    assert kill["data"]["uri"] == uri and kill["data"]["pubStatus"] == "canceled"
    time.sleep(0.5)
    assert never_got_it.requests == []


def test_a_kills_only_subscription_gets_the_kills_of_stories_its_filters_match(
        plat: Platform, receivers: list[Receiver]) -> None:
    kills, other_topic = receiver(receivers), receiver(receivers)
    source = src()
    sub = subscribe(plat, kills.url, sources=[source], topics=[TOPIC],
                    event_types=["article.killed"])
    subscribe(plat, other_topic.url, sources=[source], topics=[OTHER_TOPIC],
              event_types=["article.killed"])
    uri = f"urn:wh:{source}:1"
    push(plat, story(uri, source, topics=(TOPIC,)))
    push(plat, story(uri, source, version=2, killed=True))

    kills.wait(lambda rs: len(rs) == 1)
    kill = verify(sub["secret"], kills.requests[0])
    assert kill["type"] == "article.killed" and kill["data"]["uri"] == uri
    time.sleep(0.5)
    assert len(kills.requests) == 1 and other_topic.requests == []


def test_a_kill_drops_queued_versions_and_is_still_delivered(
        plat: Platform, receivers: list[Receiver]) -> None:
    # Until the gate opens the subscriber answers 503 with Retry-After, so every delivery stays
    # queued for seconds between attempts, long enough to look at the queue (a refused
    # connection would use the test's fast retry schedule and dead-letter them at once).
    gate = {"open": False}
    hook = receiver(receivers, lambda n: (200, {}, 0.0) if gate["open"]
                    else (503, {"Retry-After": "2"}, 0.0))
    source = src()
    sub = subscribe(plat, hook.url, sources=[source])
    uri = f"urn:wh:{source}:1"
    push(plat, story(uri, source, version=1), story(uri, source, version=2))
    with admin(plat) as api:
        _wait_queued(api, sub["id"], 2)
        push(plat, story(uri, source, version=3, killed=True))
        _wait_queued(api, sub["id"], 1, types={"article.killed"})
    gate["open"] = True
    hook.wait(lambda rs: len(ok(rs)) == 1)
    time.sleep(0.5)
    assert [r.json["type"] for r in ok(hook.requests)] == ["article.killed"]


def _wait_queued(api: httpx.Client, sub_id: str, count: int, types: set[str] | None = None,
                 timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        items = api.get("/v1/deliveries", params={"subscription": sub_id,
                                                  "status": "queued"}).json()["items"]
        if len(items) == count and (types is None or {i["type"] for i in items} == types):
            return items  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, items
        time.sleep(0.05)


def test_dead_letters_keep_the_history_and_replay_from_the_cli(
        plat: Platform, receivers: list[Receiver]) -> None:
    failing = {"on": True}
    hook = receiver(receivers, lambda n: (500 if failing["on"] else 200, {}, 0.0))
    source = src()
    sub = subscribe(plat, hook.url, sources=[source])
    push(plat, story(f"urn:wh:{source}:1", source))
    hook.wait(lambda rs: len(rs) == 4)  # 1 + 3 retries
    env = {"NEWSFLOW_DELIVER_URL": plat.url("deliver"), "NEWSFLOW_ADMIN_KEY": ADMIN_KEY}
    runner = CliRunner()
    deadline = time.monotonic() + 5
    while True:
        listed = runner.invoke(cli, ["deliveries", "list", "--subscription", sub["id"], "--json"],
                               env=env)
        assert listed.exit_code == 0, listed.output
        if listed.stdout.strip() or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    (dead,) = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert dead["status"] == "dead"
    assert [a["status"] for a in dead["attempts"]] == [500, 500, 500, 500]
    assert all(a["at"] and a["duration_ms"] >= 0 for a in dead["attempts"])
    assert len(hook.requests) == 4

    failing["on"] = False
    replayed = runner.invoke(cli, ["deliveries", "replay", dead["id"]], env=env)
    assert replayed.exit_code == 0, replayed.output
    hook.wait(lambda rs: len(ok(rs)) == 1)
    assert hook.requests[-1].headers["webhook-id"] == dead["id"]
    listed = runner.invoke(cli, ["deliveries", "list", "--subscription", sub["id"], "--json"],
                           env=env)
    assert listed.stdout.strip() == ""


@pytest.mark.parametrize("url", [
    "http://10.1.2.3/hook", "http://192.168.0.10/hook", "http://169.254.169.254/latest/meta-data",
    "http://[fd00:ec2::254]/", "http://localhost:9/hook", "http://[::1]/hook",
    "ftp://example.com/hook",
])
def test_private_and_metadata_targets_are_refused(plat: Platform, url: str) -> None:
    with admin(plat) as api:
        response = api.post("/v1/subscriptions", json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "url"


def test_deliveries_survive_a_deliver_restart(
        tmp_path: Path, redis_url: str, mongodb_uri: str, receivers: list[Receiver],
        isolated_platform: Callable[..., AbstractContextManager[Platform]]) -> None:
    with isolated_platform(tmp_path, redis_url, mongodb_uri, services=("publish", "deliver"),
                           **{**FAST, "NEWSFLOW_WEBHOOK_RETRY_SCHEDULE_S":
                              "0.2,0.5,1,1,1,1,1,1,1,1"}) as plat:
        hook = receiver(receivers, start=False)
        source = src()
        sub = subscribe(plat, hook.url, sources=[source])
        push(plat, story(f"urn:wh:{source}:1", source))
        with admin(plat) as api:
            deadline = time.monotonic() + 10
            while not any(len(i["attempts"]) >= 1 for i in _wait_queued(api, sub["id"], 1)):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        plat.processes["deliver"].stop()
        hook.start()
        time.sleep(1.0)
        assert hook.requests == []  # nobody sends while deliver is down
        plat.start_service("deliver")
        plat.wait_ready(timeout=60, names=("deliver",))
        hook.wait(lambda rs: len(rs) == 1, timeout=15)
        time.sleep(1.0)
        assert len(hook.requests) == 1
        verify(sub["secret"], hook.requests[0])


def test_metrics_count_outcomes_without_naming_subscriptions(
        plat: Platform, receivers: list[Receiver]) -> None:
    # /metrics answers anyone: it must not list who subscribes.
    hook = receiver(receivers, lambda n: (500, {}, 0.0) if n < 1 else (200, {}, 0.0))
    source = src()
    sub = subscribe(plat, hook.url, sources=[source])
    push(plat, story(f"urn:wh:{source}:metrics", source))
    hook.wait(lambda rs: len(ok(rs)) == 1)
    deadline = time.monotonic() + 10
    while True:
        text = httpx.get(f"{plat.url('deliver')}/metrics", timeout=5).text
        if 'newsflow_webhook_deliveries_total{result="delivered"}' in text:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
    assert 'newsflow_webhook_attempts_total{outcome="http_error"}' in text
    assert "newsflow_webhook_queue_depth " in text
    assert sub["id"] not in text and "subscription=" not in text
