"""The newsflow command's offline subcommands, as a user runs them."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from shared.article import Article, Source
from shared.events import PUBLISHED_STREAM, ArticlePublished

from newsflow_cli.main import app

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "000_23ba3fd990788c7e.txt"
runner = CliRunner()


def test_parse_prints_a_json_array_of_articles() -> None:
    result = runner.invoke(app, ["parse", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    [article] = json.loads(result.stdout)
    assert article["headlines"][0]["value"].startswith("Russia and Ukraine Resume Peace Talks")
    assert article["source"]["format"] == "text"


def test_parse_of_unsupported_input_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "image.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    result = runner.invoke(app, ["parse", str(bad)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "image.png" in result.stderr


def test_parse_says_on_stderr_what_it_left_out(tmp_path: Path) -> None:
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps([
        {"uri": "urn:t:1", "headline": "Bridge reopens", "body": "Traffic.", "urgency": "high"},
        {"uri": "", "headline": "No id", "body": "Nothing."}]))
    result = runner.invoke(app, ["parse", str(batch)])
    assert result.exit_code == 0, result.output
    assert [a["uri"] for a in json.loads(result.stdout)] == ["urn:t:1"]
    said = result.stderr.strip().splitlines()
    assert len(said) == 2
    assert "urn:t:1: urgency: 'high'" in said[0]
    assert "item #2 left out" in said[1] and "(uri)" in said[1]


def test_enrich_jsonl_keeps_order_and_ids_and_reports_bad_lines() -> None:
    lines = [
        {"id": "en-1", "text": "Merkel meets Macron in Paris\n\nGerman Chancellor Angela Merkel "
                               "met French President Emmanuel Macron in Paris on Monday."},
        {"id": 2, "text": ""},
        {"id": "de-1", "text": "Neue Regeln in Berlin\n\nDie Bundesregierung hat am Montag in "
                               "Berlin neue Regeln für alle Unternehmen beschlossen."},
    ]
    stdin = "\n".join(json.dumps(line) for line in lines) + "\n"
    result = runner.invoke(app, ["enrich", "--jsonl"], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["en-1", 2, "de-1"]
    assert {p["name"] for p in out[0]["people"]} >= {"Angela Merkel", "Emmanuel Macron"}
    assert "text" in out[1]["error"]
    assert out[2]["language"] == "de"
    assert out[2]["wordCount"] > 0


@pytest.mark.integration
def test_tail_waits_out_a_quiet_stream_and_prints_the_next_event(
        redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    article = Article(uri="urn:t:tail", version=1, source=Source(provider="t", format="json"),
                      headlines=[{"value": "Bridge reopens"}])
    event = ArticlePublished.for_article(article, "test")
    # Published after 6 s of quiet: longer than the Redis client's 5 s socket timeout.
    later = threading.Timer(6.0, client.xadd, (prefix + PUBLISHED_STREAM, event.to_fields()))
    try:
        later.start()
        result = runner.invoke(app, ["tail", "--count", "1"],
                               env={"NEWSFLOW_REDIS_URL": redis_url,
                                    "NEWSFLOW_STREAM_PREFIX": prefix})
    finally:
        later.join()
        client.delete(prefix + PUBLISHED_STREAM)
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    printed = json.loads(line)
    assert (printed["id"], printed["subject"]) == (event.id, "urn:t:tail")
    assert printed["data"]["headlines"][0]["value"] == "Bridge reopens"
