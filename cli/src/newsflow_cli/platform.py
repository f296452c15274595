"""The whole platform on one machine: nx-27017, the four services as processes, readiness."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import redis
from pymongo import MongoClient

from shared.events import PUBLISHED_STREAM, Event

from ingest.auth import hash_key

SERVICES = ("ingest", "enrich", "publish", "deliver")


class PlatformError(RuntimeError):
    """Something the platform needs did not start; the message says what and where to look."""


StreamEntries = list[tuple[bytes, dict[bytes, bytes]]]


def read_events(client: redis.Redis, stream: str, after: str = "0-0",
                block_ms: int | None = None) -> list[tuple[str, Event]]:
    """Events on a stream after an entry id (``$``: only new ones), with their entry ids."""
    if block_ms is None:
        entries = cast(StreamEntries, client.xrange(stream, min=f"({after}" if after != "0-0"
                                                    else "-"))
    else:
        reply = cast(list[tuple[bytes, StreamEntries]],
                     client.xread({stream: after}, block=block_ms) or [])
        entries = [entry for _, batch in reply for entry in batch]
    return [(entry_id.decode(), Event.from_fields(fields)) for entry_id, fields in entries]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str | None = None

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def kill(self) -> None:
        """SIGKILL: a crash, for fault tests."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(5)


@dataclass
class Platform:
    """Starts and stops everything ``newsflow run`` and the end-to-end tests need."""

    workdir: Path
    redis_url: str = "redis://127.0.0.1:6379/0"
    mongodb_uri: str | None = None
    mongodb_db: str = "newsflow"
    stream_prefix: str = ""
    ingest_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    source: str = "local"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "NEWSFLOW_REDIS_URL": self.redis_url,
            "NEWSFLOW_MONGODB_URI": self.mongodb_uri or "",
            "NEWSFLOW_MONGODB_DB": self.mongodb_db,
            "NEWSFLOW_STREAM_PREFIX": self.stream_prefix,
            "NEWSFLOW_INGEST_KEYS": f'{{"{self.source}": "{hash_key(self.ingest_key)}"}}',
            "NEWSFLOW_HTTP_HOST": "127.0.0.1",
            "NEWSFLOW_LOG_JSON": "true",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._check_redis()
        if not self.mongodb_uri:
            self.start_mongo()
        for name in SERVICES:
            self.start_service(name)
        self.wait_ready(timeout)

    def start_mongo(self, port: int | None = None) -> None:
        """nx-27017 on a free port (or the given one, for a restart), with its own database,
        pid and log files."""
        exe = shutil.which("nx-27017") or str(Path(sys.executable).with_name("nx-27017"))
        port = port or free_port()
        log_path = self.workdir / "nx-27017.log"
        with open(self.workdir / "nx-27017.err", "wb") as errors:
            popen = subprocess.Popen(
                [exe, "--host", "127.0.0.1", "-p", str(port), "--db",
                 str(self.workdir / "mongo.db"), "--pid-file", str(self.workdir / "nx-27017.pid"),
                 "--log-file", str(log_path)],
                stdout=subprocess.DEVNULL, stderr=errors)
        self.processes["mongo"] = Process("mongo", popen, log_path)
        self.mongodb_uri = f"mongodb://127.0.0.1:{port}"
        _wait_port(port, popen, timeout=30, what="nx-27017", log=log_path)

    def start_service(self, name: str, port: int | None = None) -> Process:
        port = port or free_port()
        log_path = self.workdir / f"{name}.log"
        env = self.env()
        env["NEWSFLOW_HTTP_PORT"] = str(port)
        with open(log_path, "ab") as log_file:
            popen = subprocess.Popen([sys.executable, "-m", name], env=env, stdout=log_file,
                                     stderr=subprocess.STDOUT)
        process = Process(name, popen, log_path, f"http://127.0.0.1:{port}")
        self.processes[name] = process
        return process

    def wait_ready(self, timeout: float = 120.0, names: tuple[str, ...] = SERVICES) -> None:
        deadline = time.monotonic() + timeout
        for name in names:
            process = self.processes[name]
            while True:
                if process.popen.poll() is not None:
                    raise PlatformError(f"{name} exited with status {process.popen.returncode};"
                                        f" see {process.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{process.url}/readyz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise PlatformError(f"{name} not ready after {timeout:.0f}s;"
                                        f" see {process.log_path}")
                time.sleep(0.2)

    def stop(self) -> None:
        for name in (*reversed(SERVICES), "mongo"):
            process = self.processes.pop(name, None)
            if process:
                process.stop()

    def push(self, body: bytes | str, content_type: str = "text/plain") -> httpx.Response:
        """POST a document to ingest as the platform's own source."""
        return httpx.post(f"{self.url('ingest')}/v1/articles", content=body, timeout=30,
                          headers={"Authorization": f"Bearer {self.ingest_key}",
                                   "Content-Type": content_type})

    def published(self, uri: str | None = None) -> list[Event]:
        """The events on news.published so far (about one story, or all)."""
        client = redis.Redis.from_url(self.redis_url)
        events = read_events(client, self.stream_prefix + PUBLISHED_STREAM)
        return [e for _, e in events if uri is None or e.subject == uri]

    def wait_published(self, uri: str, types: set[str] | None = None, count: int = 1,
                       timeout: float = 90.0) -> list[Event]:
        """The events about one story once `count` of them (of `types`) are on news.published."""
        deadline = time.monotonic() + timeout
        while True:
            mine = [e for e in self.published(uri) if types is None or e.type in types]
            if len(mine) >= count:
                return mine
            if time.monotonic() > deadline:
                raise PlatformError(f"{uri}: {len(mine)} of {count} events within {timeout}s;"
                                    f" logs in {self.workdir}")
            time.sleep(0.2)

    def stored(self, uri: str) -> dict[str, Any] | None:
        """The story's MongoDB document as publish stored it, with its ``article`` (kept as
        JSON text) decoded."""
        assert self.mongodb_uri
        client: MongoClient[dict[str, Any]]
        with MongoClient(self.mongodb_uri, serverSelectionTimeoutMS=5000) as client:
            doc: dict[str, Any] | None = client[self.mongodb_db].articles.find_one({"_id": uri})
        if doc is not None and isinstance(doc.get("article"), str):
            doc["article"] = orjson.loads(doc["article"])
        return doc

    def url(self, name: str) -> str:
        url = self.processes[name].url
        assert url is not None
        return url

    def _check_redis(self) -> None:
        connect_redis(self.redis_url)


def connect_redis(url: str) -> redis.Redis:
    """A client that answered a PING; PlatformError (password masked) otherwise."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise PlatformError(
            f"Redis is not answering at {masked(url)} ({exc}); start it with: "
            "redis-server --daemonize yes --bind 127.0.0.1 --port 6379") from exc
    return client


def masked(url: str) -> str:
    """A URL without its password, for the terminal."""
    return re.sub(r"//[^@/]*@", "//***@", url)


@contextlib.contextmanager
def running(platform: Platform, timeout: float = 120.0) -> Iterator[Platform]:
    try:
        platform.start(timeout)
        yield platform
    finally:
        platform.stop()


def _wait_port(port: int, popen: subprocess.Popen[bytes], *, timeout: float, what: str,
               log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise PlatformError(f"{what} exited with status {popen.returncode}; see {log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise PlatformError(f"{what} did not listen on port {port} within {timeout:.0f}s; see {log}")
