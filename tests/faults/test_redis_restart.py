"""Redis killed (SIGKILL) while stories flow, and restarted from its append-only file.

A Redis server of this test's own (a free port, AOF with ``appendfsync always``), so the shared
one is never touched. Every story answered 202 is durable: after the restart it is stored and
announced once, and no group is left with anything pending.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import redis

from newsflow_cli.platform import Platform, _wait_port, free_port

pytestmark = pytest.mark.e2e
PlatformFactory = Callable[..., AbstractContextManager[Platform]]


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is needed"
        log = self.workdir / "redis.log"
        self.popen = subprocess.Popen(
            [exe, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.workdir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--logfile", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.popen, timeout=30, what="redis-server", log=log)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 30
        while True:  # listening, but maybe still loading the AOF
            try:
                client.ping()
                return
            except redis.BusyLoadingError:
                assert time.monotonic() < deadline, "Redis did not load its AOF"
                time.sleep(0.1)

    def kill(self) -> None:
        assert self.popen
        self.popen.kill()
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.workdir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_killed_and_restarted_from_its_aof_loses_and_repeats_nothing(
        tmp_path: Path, own_redis: RedisServer, mongodb_uri: str,
        isolated_platform: PlatformFactory, make_checks: Any, fast_env: dict[str, str]) -> None:
    (tmp_path / "platform").mkdir()
    with isolated_platform(tmp_path / "platform", own_redis.url, mongodb_uri,
                           **fast_env) as plat:
        checks = make_checks(plat, own_redis.url)
        with checks.pushing_client(30) as feed:
            checks.wait_until(lambda: len(feed.accepted) >= 8, 60, "the client got going")
            own_redis.kill()  # SIGKILL: whatever was answered 202 is in the AOF
            retries = feed.retries
            checks.wait_until(lambda: feed.retries > retries, 30, "the client saw the outage")
            own_redis.start()  # same port, same directory
        checks.assert_once(feed.accepted)
        logs = "".join(p.read_text() for p in plat.workdir.glob("*.log"))
        assert "consumer.read_failed" in logs or "consumer.reclaim_failed" in logs  # it noticed
