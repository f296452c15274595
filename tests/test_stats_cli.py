"""``newsflow stats`` against a real Redis, on streams of this test's own prefix."""

from __future__ import annotations

import json
import time

import pytest
import redis
from typer.testing import CliRunner, Result

from shared.events import ENRICHED_STREAM, INGESTED_STREAM

from newsflow_cli.main import app

pytestmark = pytest.mark.integration
runner = CliRunner()


def _stats(redis_url: str, prefix: str, *args: str) -> Result:
    return runner.invoke(app, ["stats", *args], env={"NEWSFLOW_REDIS_URL": redis_url,
                                                     "NEWSFLOW_STREAM_PREFIX": prefix})


def test_json_output_describes_every_stage(
        redis_client: redis.Redis, redis_url: str, prefix: str) -> None:
    stream = prefix + ENRICHED_STREAM
    redis_client.xgroup_create(stream, "publish", id="0", mkstream=True)
    for i in range(4):
        redis_client.xadd(stream, {"ce_id": str(i)})
    redis_client.xreadgroup("publish", "publish-host-1", {stream: ">"}, count=1)
    redis_client.xadd(stream + ".dlq", {"dlq_error": "ValueError: bad date", "dlq_attempts": "5"})

    result = _stats(redis_url, prefix, "--json")

    assert result.exit_code == 0, result.output
    snap = json.loads(result.stdout)
    by_name = {s["name"]: s for s in snap["stages"]}
    assert list(by_name) == ["ingest", "enrich", "publish", "webhooks"]
    publish = by_name["publish"]
    assert (publish["stream"], publish["lag"], publish["pending"]) == (stream, 3, 1)
    assert [r["name"] for r in publish["replicas"]] == ["publish-host-1"]
    assert publish["dead_letters"] == 1
    assert publish["latest_dead"][0]["error"] == "ValueError: bad date"
    assert snap["stuck"] == [] and snap["prefix"] == prefix


def test_exit_status_is_non_zero_while_a_stage_is_stuck(
        redis_client: redis.Redis, redis_url: str, prefix: str) -> None:
    stream = prefix + INGESTED_STREAM
    redis_client.xgroup_create(stream, "enrich", id="0", mkstream=True)
    redis_client.xadd(stream, {"ce_id": "1"})
    redis_client.xreadgroup("enrich", "enrich-host-1", {stream: ">"}, count=1)  # read, never acked
    assert _stats(redis_url, prefix, "--stuck-after", "60").exit_code == 0

    deadline = time.monotonic() + 10
    while (result := _stats(redis_url, prefix, "--stuck-after", "0.5")).exit_code == 0:
        assert time.monotonic() < deadline, result.output
        time.sleep(0.2)
    assert result.exit_code == 1, result.output
    assert "enrich: stuck" in result.stdout

    redis_client.xack(stream, "enrich", *[p["message_id"] for p in
                                    redis_client.xpending_range(stream, "enrich", "-", "+", 10)])
    assert _stats(redis_url, prefix, "--stuck-after", "0.5").exit_code == 0


def test_an_unreachable_redis_is_its_own_exit_status(prefix: str) -> None:
    result = _stats("redis://127.0.0.1:1/0", prefix)
    assert result.exit_code == 3
    assert "cannot read Redis" in result.stderr
