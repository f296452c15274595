"""Faults with the services as separate processes: killed replicas, a burst on two replicas,
the store paused and killed, a consumer group that vanished.

After each: every story answered 202 stored once and announced once, nothing left pending.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import redis

from shared.article import Article, Source
from shared.events import ENRICHED_STREAM, INGESTED_STREAM, ArticleEnriched

from newsflow_cli.main import _supervise
from newsflow_cli.platform import Platform

pytestmark = pytest.mark.e2e
PlatformFactory = Callable[..., AbstractContextManager[Platform]]


def test_an_enrich_replica_killed_mid_batch_loses_and_repeats_nothing(checks: Any) -> None:
    plat, client = checks.plat, checks.client()
    uris, batch = checks.stories(40)
    assert plat.push(batch, "application/json").status_code == 202
    enrich = plat.processes["enrich"]
    workers = _children(enrich.popen.pid)
    assert workers  # its NLP worker processes
    in_hand = checks.wait_until(
        lambda: client.xpending(checks.stream(INGESTED_STREAM), "enrich")["pending"], 60,
        "enrich took a batch")
    enrich.kill()  # SIGKILL with a batch in its workers
    assert in_hand > 0  # the crash leaves entries pending: the test exercises recovery

    plat.start_service("enrich")  # another replica takes over after the min-idle time
    plat.wait_ready(names=("enrich",), timeout=180)
    checks.assert_once(uris)
    checks.wait_until(lambda: not [pid for pid in workers if _alive(pid)], 10,
                      "the dead replica's workers exit too")


def test_publish_killed_while_it_stores_loses_and_repeats_nothing(checks: Any) -> None:
    plat = checks.plat
    uris, batch = checks.stories(30)
    assert plat.push(batch, "application/json").status_code == 202
    checks.wait_until(lambda: set(uris) & set(checks.announcements()), 120,
                      "publish announced some")
    plat.processes["publish"].kill()  # between stores, announcements and acks
    plat.start_service("publish")
    plat.wait_ready(names=("publish",))
    checks.assert_once(uris)


def test_ingest_killed_while_a_client_pushes_and_retries_loses_and_repeats_nothing(
        checks: Any) -> None:
    plat = checks.plat
    port = int(plat.url("ingest").rsplit(":", 1)[1])
    with checks.pushing_client(24) as feed:
        checks.wait_until(lambda: len(feed.accepted) >= 6, 60, "the client got going")
        plat.processes["ingest"].kill()  # perhaps between the append and the 202
        plat.start_service("ingest", port=port)
        plat.wait_ready(names=("ingest",))
    assert feed.retries > 0  # the client saw the crash and retried
    checks.assert_once(feed.accepted)


def test_a_burst_on_two_enrich_replicas_enriches_each_story_once(checks: Any) -> None:
    """Batches take longer than the reclaim idle time (3 s): the replicas keep their entries
    alive, so neither takes over what the other is still working on."""
    plat, client = checks.plat, checks.client()
    checks.start_replica("enrich", "enrich#2")
    enriched = checks.stream(ENRICHED_STREAM)
    client.xgroup_create(enriched, "audit", id="$")  # holds off the trimmer until it has read
    bursts = [checks.stories(25) for _ in range(4)]
    clients = [threading.Thread(target=plat.push, args=(body, "application/json"))
               for _, body in bursts]
    for thread in clients:  # four clients at once
        thread.start()
    for thread in clients:
        thread.join(60)
    uris = [uri for batch_uris, _ in bursts for uri in batch_uris]
    checks.wait_published(uris)
    ids: Counter[bytes] = Counter()
    while reply := client.xreadgroup("audit", "audit", {enriched: ">"}, count=1000):
        entries = reply[0][1]
        ids.update(fields[b"ce_id"] for _, fields in entries
                   if fields[b"ce_subject"].decode() in uris)
        client.xack(enriched, "audit", *[entry_id for entry_id, _ in entries])
    client.xgroup_destroy(enriched, "audit")
    checks.assert_once(uris)
    assert {i: n for i, n in ids.items() if n > 1} == {}  # no story enriched twice
    assert sum(ids.values()) == len(uris)


def test_publish_waits_out_a_paused_store_and_loses_and_repeats_nothing(checks: Any) -> None:
    plat, client = checks.plat, checks.client()
    mongo = plat.processes["mongo"].popen
    os.kill(mongo.pid, signal.SIGSTOP)
    try:
        uris, batch = checks.stories(5)
        assert plat.push(batch, "application/json").status_code == 202
        checks.wait_until(
            lambda: client.xpending(checks.stream(ENRICHED_STREAM), "publish")["pending"] >= 5,
            120, "publish holds the stories")
        # Hold the pause past the reclaim idle time: publish keeps its entries in hand.
        time.sleep(float(plat.extra_env["NEWSFLOW_RECLAIM_IDLE_MS"]) / 1000 + 1)
        assert not set(uris) & set(checks.announcements())  # nothing announced unstored
    finally:
        os.kill(mongo.pid, signal.SIGCONT)
    checks.assert_once(uris)


def test_publish_waits_out_a_store_restart_and_loses_nothing(checks: Any) -> None:
    plat, client = checks.plat, checks.client()
    assert plat.mongodb_uri
    port = int(plat.mongodb_uri.rsplit(":", 1)[1])
    plat.processes["mongo"].kill()
    uris, batch = checks.stories(3)
    assert plat.push(batch, "application/json").status_code == 202  # ingest needs no store
    checks.wait_until(
        lambda: client.xpending(checks.stream(ENRICHED_STREAM), "publish")["pending"] >= 3,
        120, "publish holds the stories")
    assert not set(uris) & set(checks.announcements())  # nothing announced without storage
    plat.start_mongo(port=port)
    checks.assert_once(uris)
    dead_letters = client.xrange(checks.stream(ENRICHED_STREAM) + ".dlq")
    assert not [f for _, f in dead_letters
                if f.get(b"ce_subject", b"").decode(errors="replace") in uris]


def test_a_service_whose_group_vanished_exits_and_is_restarted_by_newsflow_run(
        tmp_path: Path, redis_url: str, mongodb_uri: str,
        isolated_platform: PlatformFactory) -> None:
    fast = {"NEWSFLOW_RECLAIM_IDLE_MS": "3000", "NEWSFLOW_BLOCK_MS": "100"}
    with isolated_platform(tmp_path, redis_url, mongodb_uri, services=("publish",),
                           **fast) as plat:
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
