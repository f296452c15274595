"""Fixtures for tests against real servers: Redis, a MongoDB-wire server, service processes.

MongoDB: nx-27017 is started on a free port for the session, unless NEWSFLOW_TEST_MONGODB_URI
points at a real MongoDB (the compose ``test`` service sets it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis
from pymongo import AsyncMongoClient, MongoClient
from redis.asyncio import Redis

from newsflow_cli.platform import SERVICES, Platform, _wait_port, free_port

REDIS_URL = os.environ.get("NEWSFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis must be running at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture
def prefix() -> str:
    """A unique stream-name prefix per test: tests never see each other's entries."""
    return f"test-{secrets.token_hex(4)}:"


@pytest.fixture
async def aredis(redis_url: str, prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
def redis_client(redis_url: str, prefix: str) -> Iterator[redis.Redis]:
    """A synchronous client; the test's prefixed keys are removed afterwards."""
    client = redis.Redis.from_url(redis_url)
    yield client
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("NEWSFLOW_TEST_MONGODB_URI")
    if external:
        yield external
        return
    workdir = tmp_path_factory.mktemp("nx-27017")
    exe = shutil.which("nx-27017") or str(Path(sys.executable).with_name("nx-27017"))
    port = free_port()
    log = workdir / "nx.log"
    popen = subprocess.Popen(
        [exe, "--host", "127.0.0.1", "-p", str(port), "--db", str(workdir / "test.db"),
         "--pid-file", str(workdir / "nx.pid"), "--log-file", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, popen, timeout=30, what="nx-27017", log=log)
        yield f"mongodb://127.0.0.1:{port}"
    finally:
        popen.terminate()
        popen.wait(10)


@pytest.fixture
async def mongo_db(mongodb_uri: str) -> AsyncIterator[tuple[AsyncMongoClient, str]]:
    """A client and a database name of its own for this test."""
    client: AsyncMongoClient = AsyncMongoClient(mongodb_uri, serverSelectionTimeoutMS=5000,
                                                tz_aware=True)
    name = f"test_{secrets.token_hex(4)}"
    yield client, name
    await client.drop_database(name)
    await client.close()


@pytest.fixture(scope="session")
def isolated_platform() -> Callable[..., contextlib.AbstractContextManager[Platform]]:
    """``with isolated_platform(workdir, redis_url, mongodb_uri, services=..., **env)``."""
    return _isolated_platform


@contextlib.contextmanager
def _isolated_platform(workdir: Path, redis_url: str, mongodb_uri: str | None, *,
                       services: tuple[str, ...] = SERVICES, **env: str) -> Iterator[Platform]:
    """Services as separate processes on their own streams, keys and database; removed after.

    With ``mongodb_uri=None`` the platform runs an nx-27017 of its own (a test may stop it).
    """
    prefix = f"test-{secrets.token_hex(4)}:"
    plat = Platform(workdir=workdir, redis_url=redis_url, mongodb_uri=mongodb_uri,
                    mongodb_db=f"test_{secrets.token_hex(4)}", stream_prefix=prefix,
                    extra_env=env)
    try:
        if mongodb_uri is None:
            plat.start_mongo()
        for name in services:
            plat.start_service(name)
        plat.wait_ready(timeout=180, names=services)
        yield plat
    finally:
        plat.stop()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        if mongodb_uri is not None:
            MongoClient(mongodb_uri).drop_database(plat.mongodb_db)
