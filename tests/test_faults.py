"""Faults with the services as separate processes: a killed replica, poison, a database restart.

Nothing accepted may be lost, and nothing may be announced twice on news.published.
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import orjson
import pytest
import redis

from shared.article import Article, Source
from shared.events import ENRICHED_STREAM, INGESTED_STREAM, ArticleEnriched

from newsflow_cli.main import _supervise
from newsflow_cli.platform import Platform

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "000_23ba3fd990788c7e.txt"
PlatformFactory = Callable[..., AbstractContextManager[Platform]]
FAST = {"NEWSFLOW_RECLAIM_IDLE_MS": "3000", "NEWSFLOW_RECLAIM_INTERVAL_MS": "200",
        "NEWSFLOW_BLOCK_MS": "100", "NEWSFLOW_WORKERS": "1", "NEWSFLOW_MAX_ATTEMPTS": "20"}


def _stories(n: int) -> tuple[list[str], bytes]:
    headline, _, body = SAMPLE.read_text().partition("\n")
    uris = [f"urn:fault:{secrets.token_hex(6)}" for _ in range(n)]
    batch = [{"uri": uri, "version": 1, "headline": headline.strip(), "body": body.strip()}
             for uri in uris]
    return uris, orjson.dumps(batch)


def _announcements(plat: Platform) -> Counter[str]:
    return Counter(e.subject for e in plat.published())


def _wait_all(plat: Platform, uris: list[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while set(uris) - set(_announcements(plat)):
        missing = len(set(uris) - set(_announcements(plat)))
        assert time.monotonic() < deadline, f"{missing} stories not published; {plat.workdir}"
        time.sleep(0.3)


def test_an_enrich_replica_killed_mid_batch_loses_and_repeats_nothing(
        tmp_path: Path, redis_url: str, mongodb_uri: str,
        isolated_platform: PlatformFactory) -> None:
    with isolated_platform(tmp_path, redis_url, mongodb_uri, **FAST,
                           NEWSFLOW_BATCH_SIZE="8") as plat:
        uris, batch = _stories(40)
        assert plat.push(batch, "application/json").status_code == 202
        client = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 60
        while not client.exists(plat.stream_prefix + "news.enriched"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        workers = _children(plat.processes["enrich"].popen.pid)
        assert workers  # its NLP worker processes
        plat.processes["enrich"].kill()  # SIGKILL with batches in its workers
        pending = client.xpending(plat.stream_prefix + INGESTED_STREAM, "enrich")["pending"]
        assert pending > 0  # the crash left entries pending: the test exercises recovery

        plat.start_service("enrich")  # another replica takes over after the min-idle time
        plat.wait_ready(names=("enrich",))
        _wait_all(plat, uris)
        assert not [pid for pid in workers if _alive(pid)]  # the dead one's workers left too
        time.sleep(1.0)
        counts = _announcements(plat)
        assert all(counts[uri] == 1 for uri in uris), {u: counts[u] for u in uris if counts[u] != 1}


def test_a_poison_entry_is_dead_lettered_and_the_next_story_flows(
        tmp_path: Path, redis_url: str, mongodb_uri: str,
        isolated_platform: PlatformFactory) -> None:
    with isolated_platform(tmp_path, redis_url, mongodb_uri, **FAST) as plat:
        client = redis.Redis.from_url(redis_url)
        client.xadd(plat.stream_prefix + INGESTED_STREAM, {"ce_type": "garbage", "data": "{"})
        uris, batch = _stories(1)
        assert plat.push(batch, "application/json").status_code == 202
        _wait_all(plat, uris)
        [(_, dead)] = client.xrange(plat.stream_prefix + INGESTED_STREAM + ".dlq")
        assert dead[b"ce_type"] == b"garbage"
        assert b"garbage" in dead[b"dlq_error"]


def test_publish_waits_out_a_database_restart_and_loses_nothing(
        tmp_path: Path, redis_url: str, isolated_platform: PlatformFactory) -> None:
    with isolated_platform(tmp_path, redis_url, None, **FAST) as plat:
        mongo = plat.processes["mongo"]
        assert plat.mongodb_uri
        port = int(plat.mongodb_uri.rsplit(":", 1)[1])
        mongo.kill()
        uris, batch = _stories(3)
        assert plat.push(batch, "application/json").status_code == 202  # ingest needs no DB
        time.sleep(4.0)
        assert not set(uris) & set(_announcements(plat))  # nothing announced without storage
        plat.start_mongo(port=port)
        _wait_all(plat, uris)
        assert all(plat.stored(uri) for uri in uris)
        counts = _announcements(plat)
        assert all(counts[uri] == 1 for uri in uris)
        dead_letters = plat.stream_prefix + ENRICHED_STREAM + ".dlq"
        assert not redis.Redis.from_url(redis_url).exists(dead_letters)  # retried, not given up


def test_a_service_whose_group_vanished_exits_and_is_restarted_by_newsflow_run(
        tmp_path: Path, redis_url: str, mongodb_uri: str,
        isolated_platform: PlatformFactory) -> None:
    with isolated_platform(tmp_path, redis_url, mongodb_uri, services=("publish",),
                           **FAST) as plat:
        client = redis.Redis.from_url(redis_url)
        stream = plat.stream_prefix + ENRICHED_STREAM
        client.delete(stream)  # a flush, or a Redis restarted without its data
        uri = f"urn:fault:{secrets.token_hex(6)}"
        client.xadd(stream, _enriched(uri).to_fields())
        publish = plat.processes["publish"]
        # It stopped consuming, so it shuts itself down (uvicorn re-raises the SIGTERM it got).
        assert publish.popen.wait(timeout=20) in (0, -signal.SIGTERM)
        assert "consumer.stopped" in publish.log_path.read_text()

        stop = threading.Event()
        supervisor = threading.Thread(target=_supervise, args=(plat,),
                                      kwargs={"max_restarts": 1, "stop": stop})
        supervisor.start()  # what `newsflow run` does; compose restarts it likewise
        try:
            [event] = plat.wait_published(uri, timeout=60)  # the restart made the group again
            assert event.subject == uri
        finally:
            stop.set()
            supervisor.join(timeout=30)


def _enriched(uri: str) -> ArticleEnriched:
    article = Article(uri=uri, version=1, source=Source(provider="t", format="json"),
                      headlines=[{"value": "Bridge reopens"}], bodies=[{"value": "Traffic."}],
                      language="en")
    return ArticleEnriched.for_article(article, "test")  # type: ignore[return-value]


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc, Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running, not gone and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"

