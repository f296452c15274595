"""The README's run command: the whole platform from one command, the sample story through it."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

pytestmark = pytest.mark.e2e

# A database of its own: `newsflow run` uses the real stream names, not a test prefix. Two runs of
# these tests on one Redis at once each take a free database, held by a lock key inside it.
DATABASES = range(10, 16)
LOCK = "run-command-test:lock"
LOCK_TTL_S = 900

SERVICE_LINE = re.compile(r"^(?:ingest|enrich|publish|deliver)\s+(http://127\.0\.0\.1:\d+)", re.M)


def _clear(url: str) -> None:
    client = redis.Redis.from_url(url)
    for pattern in ("news.*", "newsflow:*"):
        keys = list(client.scan_iter(match=pattern))
        if keys:
            client.delete(*keys)


@pytest.fixture
def run_redis_url(redis_url: str) -> Iterator[str]:
    base = redis_url.rsplit("/", 1)[0]
    for db in DATABASES:
        url = f"{base}/{db}"
        client = redis.Redis.from_url(url)
        if client.set(LOCK, "held", nx=True, ex=LOCK_TTL_S):
            break
    else:
        pytest.fail(f"no free Redis database among {list(DATABASES)} for `newsflow run`")
    _clear(url)
    try:
        yield url
    finally:
        _clear(url)
        client.delete(LOCK)


def test_newsflow_run_publishes_the_sample_with_its_people_and_places(
        tmp_path: Path, run_redis_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newsflow_cli.main", "run", "--exit-after-demo",
         "--workdir", str(tmp_path), "--redis-url", run_redis_url, "--mongodb-uri", ""],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "published on news.published" in out
    for name in ("Dmitry Peskov", "Vladimir Medinsky", "Volodymyr Zelenskyy", "Vladimir Putin",
                 "Istanbul", "Ankara", "Kherson"):
        assert name in out
    assert redis.Redis.from_url(run_redis_url).xlen("news.published") == 1
    assert re.search(r"^  page: +http://127\.0\.0\.1:\d+/stories/\S+$", out, re.M), out
    services = SERVICE_LINE.findall(out)
    assert len(services) == 4
    for url in services:  # everything it started is stopped when it exits
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz", timeout=2)


def test_sigterm_stops_everything_newsflow_run_started(
        tmp_path: Path, run_redis_url: str) -> None:
    run = subprocess.Popen(
        [sys.executable, "-m", "newsflow_cli.main", "run", "--no-demo",
         "--workdir", str(tmp_path), "--redis-url", run_redis_url, "--mongodb-uri", ""],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert run.stdout is not None
        lines = []
        for line in run.stdout:
            lines.append(line)
            if line.startswith("running;"):
                break
        out = "".join(lines)
        urls = SERVICE_LINE.findall(out)
        assert len(urls) == 4, out
        run.terminate()  # SIGTERM, as a service manager or `kill` sends
        assert run.wait(timeout=60) == 0
    finally:
        if run.poll() is None:
            run.kill()
    for url in urls:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz", timeout=2)
