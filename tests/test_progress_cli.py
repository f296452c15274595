"""Long commands: a summary line, a progress bar on request, and Ctrl-C then a second run that
finishes the job without sending anything twice.

Ctrl-C is simulated at the worst moment: right after the server did the work, before the
command heard of it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis.commands.core import Script
from typer.testing import CliRunner

from shared.article import Article, Source
from shared.events import ENRICHED_STREAM, INGESTED_STREAM, ArticleEnriched, Event

import newsflow_cli.deliveries
import newsflow_cli.main
from newsflow_cli.main import app as cli
from newsflow_cli.platform import Platform, free_port

PlatformFactory = Callable[..., AbstractContextManager[Platform]]
runner = CliRunner()


def interrupt_after(calls: int, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, but Ctrl-C arrives just after its ``calls``-th call has done its work."""
    count = {"n": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        count["n"] += 1
        if count["n"] == calls:
            raise KeyboardInterrupt
        return result

    return wrapped


@pytest.mark.integration
def test_dead_letter_replay_resumes_after_ctrl_c_without_appending_twice(
        redis_client: redis.Redis, redis_url: str, prefix: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    stream = prefix + INGESTED_STREAM
    for i in range(10):
        redis_client.xadd(stream + ".dlq", {"ce_id": f"ev-{i}", "dlq_error": "ValueError: x",
                                      "dlq_stream": stream, "dlq_attempts": "5"})
    env = {"NEWSFLOW_REDIS_URL": redis_url, "NEWSFLOW_STREAM_PREFIX": prefix}
    args = ["dead-letters", "replay", INGESTED_STREAM, "--all", "--progress"]

    with monkeypatch.context() as patch:
        patch.setattr(Script, "__call__", interrupt_after(4, Script.__call__))
        first = runner.invoke(cli, args, env=env)
    assert first.exit_code == 130, first.output
    assert "replaying news.ingested.dlq" in first.stderr  # the bar, asked for with --progress
    last = first.stderr.strip().splitlines()[-1]
    # The 4th was replayed on the server but its answer never arrived: not counted, not left.
    assert last.startswith("interrupted: 3 entry(ies) appended again")
    assert "6 left on news.ingested.dlq" in last and "run the same command again" in last

    second = runner.invoke(cli, args[:-1], env=env)
    assert second.exit_code == 0, second.output
    assert second.stderr.strip().splitlines()[-1] == (
        "6 entry(ies) appended again to news.ingested, 0 not found, 0 left on news.ingested.dlq")
    appended = Counter(f[b"ce_id"] for _, f in redis_client.xrange(stream))
    assert sorted(appended) == sorted(f"ev-{i}".encode() for i in range(10))
    assert set(appended.values()) == {1}


@pytest.mark.e2e
def test_push_of_many_files_resumes_after_ctrl_c_and_queues_each_story_once(
        tmp_path: Path, redis_url: str, mongodb_uri: str, isolated_platform: PlatformFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    files = []
    (tmp_path / "stories").mkdir()
    for i in range(8):
        path = tmp_path / "stories" / f"story-{i}.txt"
        path.write_text(f"Harbour bridge {i} reopens\n\nThe bridge reopened on Monday.\n")
        files.append(str(path))
    with isolated_platform(tmp_path, redis_url, mongodb_uri, services=("ingest",)) as plat:
        env = {"NEWSFLOW_INGEST_URL": plat.url("ingest"), "NEWSFLOW_KEY": plat.ingest_key}
        with monkeypatch.context() as patch:
            patch.setattr(newsflow_cli.main, "_post",
                          interrupt_after(3, newsflow_cli.main._post))
            first = runner.invoke(cli, ["push", *files], env=env)
        assert first.exit_code == 130, first.output
        assert len(first.stdout.splitlines()) == 2  # the third's answer never arrived
        assert first.stderr.strip().splitlines()[-1].startswith(
            "interrupted: pushed 2 of 8 file(s), 0 failed: 2 accepted, 0 duplicate stories")

        second = runner.invoke(cli, ["push", *files], env=env)
        assert second.exit_code == 0, second.output
        assert "pushing" not in second.stderr  # no terminal, no --progress: no bar
        assert second.stderr.strip().splitlines()[-1] == (
            "pushed 8 of 8 file(s), 0 failed: 5 accepted, 3 duplicate stories")
        entries = redis.Redis.from_url(redis_url).xrange(plat.stream_prefix + INGESTED_STREAM)
        subjects = Counter(Event.from_fields(f).subject for _, f in entries)
        assert len(subjects) == 8 and set(subjects.values()) == {1}


@pytest.mark.e2e
def test_delivery_replay_all_resumes_after_ctrl_c_and_queues_each_once(
        tmp_path: Path, redis_url: str, mongodb_uri: str, isolated_platform: PlatformFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    admin_key = "progress-admin-key"
    with isolated_platform(
            tmp_path, redis_url, mongodb_uri, services=("publish", "deliver"),
            NEWSFLOW_ADMIN_KEY=admin_key, NEWSFLOW_WEBHOOK_ALLOW_HOSTS="127.0.0.1",
            NEWSFLOW_WEBHOOK_RETRY_SCHEDULE_S="0.05", NEWSFLOW_WEBHOOK_POLL_INTERVAL_S="0.1",
            NEWSFLOW_WEBHOOK_CONNECT_TIMEOUT_S="1", NEWSFLOW_WEBHOOK_READ_TIMEOUT_S="1",
            NEWSFLOW_WEBHOOK_CLAIM_LEASE_S="5", NEWSFLOW_BLOCK_MS="100") as plat:
        api = httpx.Client(base_url=plat.url("deliver"), timeout=10,
                           headers={"Authorization": f"Bearer {admin_key}"})
        # Nothing listens there yet: every attempt fails at once, and each delivery dies.
        port = free_port()
        created = api.post("/v1/subscriptions", json={"url": f"http://127.0.0.1:{port}/hook"})
        assert created.status_code == 201, created.text
        client = redis.Redis.from_url(redis_url)
        for i in range(6):
            article = Article(uri=f"urn:replay:{i}", version=1,
                              source=Source(provider="t", format="json"),
                              headlines=[{"value": f"Story {i}"}])
            client.xadd(plat.stream_prefix + ENRICHED_STREAM,
                        ArticleEnriched.for_article(article, "test").to_fields())

        def dead() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = api.get(
                "/v1/deliveries", params={"status": "dead"}).json()["items"]
            return items

        def wait_dead(n: int) -> list[dict[str, Any]]:
            deadline = time.monotonic() + 60
            while len(items := dead()) < n:
                assert time.monotonic() < deadline, items
                time.sleep(0.2)
            return items

        wait_dead(6)
        # The subscriber is back: what is replayed now is delivered, and counted there.
        received: Counter[str] = Counter()

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                received[self.headers["webhook-id"]] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            env = {"NEWSFLOW_DELIVER_URL": plat.url("deliver"), "NEWSFLOW_ADMIN_KEY": admin_key}
            with monkeypatch.context() as patch:
                # The listing, one replay, then Ctrl-C just after the second replay was done.
                patch.setattr(newsflow_cli.deliveries, "_call",
                              interrupt_after(3, newsflow_cli.deliveries._call))
                first = runner.invoke(cli, ["deliveries", "replay", "--all"], env=env)
            assert first.exit_code == 130, first.output
            assert first.stderr.strip().splitlines()[-1].startswith(
                "interrupted: 1 queued again, 0 no longer dead of 1 delivery(ies) tried")

            second = runner.invoke(cli, ["deliveries", "replay", "--all"], env=env)
            assert second.exit_code == 0, second.output
            assert second.stderr.strip().splitlines()[-1] == (
                "4 queued again, 0 no longer dead of 4 delivery(ies) tried")
            deadline = time.monotonic() + 30
            while len(received) < 6:
                assert time.monotonic() < deadline, received
                time.sleep(0.1)
            assert dead() == []
            assert set(received.values()) == {1}, received  # none sent twice
        finally:
            server.shutdown()
            server.server_close()
