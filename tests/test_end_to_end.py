"""End to end: the three services as separate processes over the real Redis and MongoDB-wire.

One platform per module (starting three services costs seconds); every test uses its own story
uris, so they do not see each other's stories.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ingest.auth import hash_key
from newsflow_cli.platform import Platform

pytestmark = pytest.mark.e2e

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "000_23ba3fd990788c7e.txt"
FAST = {"NEWSFLOW_RECLAIM_IDLE_MS": "5000", "NEWSFLOW_RECLAIM_INTERVAL_MS": "200",
        "NEWSFLOW_BLOCK_MS": "200", "NEWSFLOW_WORKERS": "1", "NEWSFLOW_EMBARGO_POLL_S": "0.2"}


# Two sources: the platform's own ("local") and a rival that must not touch local's stories.
LOCAL_KEY, RIVAL_KEY = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
KEYS = {"NEWSFLOW_INGEST_KEYS": orjson.dumps({"local": hash_key(LOCAL_KEY),
                                              "rival": hash_key(RIVAL_KEY)}).decode()}


@pytest.fixture(scope="module")
def plat(tmp_path_factory: pytest.TempPathFactory, redis_url: str, mongodb_uri: str,
         isolated_platform: Callable[..., AbstractContextManager[Platform]]
         ) -> Iterator[Platform]:
    with isolated_platform(tmp_path_factory.mktemp("e2e"), redis_url, mongodb_uri,
                           **FAST, **KEYS) as platform:
        platform.ingest_key = LOCAL_KEY
        yield platform


def _push_as(plat: Platform, key: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{plat.url('ingest')}/v1/articles", content=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}",
                               "Content-Type": "application/json"})


def _story(uri: str, version: int, **fields: Any) -> bytes:
    story = {"uri": uri, "version": version, "headlines": [{"value": f"Harbour fire v{version}"}],
             "bodies": [{"value": "Firefighters in Hamburg fought a blaze at the harbour. "
                                  "Nobody was hurt, the city said on Tuesday."}],
             **fields}
    return orjson.dumps(story)


def test_the_sample_story_comes_out_enriched_on_the_stream_and_in_mongodb(
        plat: Platform) -> None:
    response = plat.push(SAMPLE.read_bytes())
    assert response.status_code == 202, response.text
    [result] = response.json()["results"]
    assert result["status"] == "accepted"

    [event] = plat.wait_published(result["uri"])
    assert event.type == "news.article.published"
    doc = plat.stored(result["uri"])
    assert doc is not None
    article = doc["article"]
    people = {p["name"] for p in article["people"]}
    places = {p["name"] for p in article["places"]}
    assert {"Dmitry Peskov", "Vladimir Medinsky", "Volodymyr Zelenskyy",
            "Vladimir Putin"} <= people
    assert {"Istanbul", "Ankara", "Kherson"} <= places
    body = " ".join(b["value"] for b in article["bodies"])
    assert "Edited and published by" not in body
    assert article["descriptions"] and article["descriptions"][0]["value"]
    assert article["language"] == "en"
    assert article["keywords"]
    assert event.data["people"] == article["people"]  # the stream carries the same story

    read = httpx.get(f"{plat.url('publish')}/v1/articles/{result['uri']}", timeout=10)
    assert read.status_code == 200
    assert read.json()["uri"] == result["uri"]


def test_a_repeat_is_reported_duplicate_and_published_once(plat: Platform) -> None:
    uri = f"urn:test:{secrets.token_hex(4)}"
    first = plat.push(_story(uri, 1), "application/json").json()["results"][0]
    again = plat.push(_story(uri, 1), "application/json").json()["results"][0]
    assert (first["status"], again["status"]) == ("accepted", "duplicate")
    assert first["event_id"] == again["event_id"]
    plat.wait_published(uri)
    time.sleep(1.0)
    assert len(plat.wait_published(uri)) == 1


def test_a_version_chain_ends_killed_everywhere(plat: Platform) -> None:
    uri = f"urn:test:{secrets.token_hex(4)}"
    assert plat.push(_story(uri, 10), "application/json").status_code == 202
    plat.wait_published(uri, count=1)
    correction = _story(uri, 250, signals=["correction"],
                        headlines=[{"value": "Harbour fire: corrects the district"}])
    assert plat.push(correction, "application/json").status_code == 202
    updates = plat.wait_published(uri, count=2)
    assert "correction" in updates[-1].data["signals"]
    assert plat.stored(uri)["article"]["version"] == 250  # type: ignore[index]

    late = _story(uri, 11)  # an older version arriving late changes nothing
    assert plat.push(late, "application/json").status_code == 202
    kill = orjson.dumps({"uri": uri, "version": 251, "pubStatus": "canceled",
                         "edNote": "Withdrawn: legal reasons"})
    assert plat.push(kill, "application/json").status_code == 202
    [killed] = plat.wait_published(uri, {"news.article.killed"})
    assert killed.data["pubStatus"] == "canceled"
    doc = plat.stored(uri)
    assert doc is not None and doc["killed"] and doc["pubStatus"] == "canceled"
    assert [e.data["version"] for e in plat.wait_published(uri, count=3)] == [10, 250, 251]
    gone = httpx.get(f"{plat.url('publish')}/v1/articles/{uri}", timeout=10)
    assert gone.status_code == 410


def test_another_source_can_neither_replace_nor_kill_a_story_nor_squat_a_uri(
        plat: Platform) -> None:
    uri = f"urn:test:{secrets.token_hex(4)}"
    assert _push_as(plat, LOCAL_KEY, _story(uri, 1)).status_code == 202
    plat.wait_published(uri)
    for attempt in (_story(uri, 2, headlines=[{"value": "Hijacked"}]),
                    orjson.dumps({"uri": uri, "version": 3, "pubStatus": "canceled"}),
                    orjson.dumps({"uri": uri, "pubStatus": "canceled"})):
        refused = _push_as(plat, RIVAL_KEY, attempt)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["field"] == "uri"
    assert _push_as(plat, LOCAL_KEY, _story(uri, 5)).status_code == 202
    events = plat.wait_published(uri, count=2)
    assert [(e.type, e.data["version"]) for e in events] == [
        ("news.article.published", 1), ("news.article.published", 5)]
    assert {e.data["source"]["provider"] for e in events} == {"local"}
    read = httpx.get(f"{plat.url('publish')}/v1/articles/{uri}", timeout=10)
    assert read.status_code == 200 and read.json()["version"] == 5

    unused = f"urn:test:{secrets.token_hex(4)}"
    squat = _push_as(plat, RIVAL_KEY, _story(unused, 2**62 - 1))
    assert squat.status_code == 422, squat.text
    assert squat.json()["error"]["field"] == "version"
    assert _push_as(plat, LOCAL_KEY, _story(unused, 1)).status_code == 202
    plat.wait_published(unused)


def test_an_embargoed_story_is_held_and_released_after_a_publish_restart(
        plat: Platform) -> None:
    uri = f"urn:test:{secrets.token_hex(4)}"
    until = datetime.now(UTC) + timedelta(seconds=6)
    story = _story(uri, 1, embargoedUntil=until.isoformat())
    assert plat.push(story, "application/json").status_code == 202
    time.sleep(2.0)
    assert plat.stored(uri) is None  # held, not published
    plat.processes["publish"].stop()
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 1)
    plat.start_service("publish")
    plat.wait_ready(names=("publish",))
    [event] = plat.wait_published(uri)
    assert event.time >= until
    assert plat.stored(uri) is not None


@pytest.mark.parametrize(("headers", "body", "status", "field"), [
    ({"Authorization": "Bearer wrong"}, b"Headline\n\nBody.", 401, "Authorization"),
    ({"Authorization": None}, b"Headline\n\nBody.", 401, "Authorization"),  # None: not sent
    (None, b'{"uri": "", "headline": "x", "body": "y"}', 422, "uri"),
    (None, b'{"headline": "x", "body": "y",}', 400, None),
    (None, b"\x89PNG\r\n\x1a\n\x00\x00binary", 415, None),
    (None, b"null", 400, None),
    ({"Content-Type": "image/png"}, b"Headline\n\nBody.", 415, "content-type"),
])
def test_bad_requests_get_a_clear_error_naming_the_problem(
        plat: Platform, headers: dict[str, str | None] | None, body: bytes, status: int,
        field: str | None) -> None:
    sent = {"Authorization": f"Bearer {plat.ingest_key}", "Content-Type": "application/json",
            **(headers or {})}
    sent_headers = {name: value for name, value in sent.items() if value is not None}
    response = httpx.post(f"{plat.url('ingest')}/v1/articles", content=body,
                          headers=sent_headers, timeout=10)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if field is not None:
        assert error["field"] == field


def test_an_oversized_request_is_refused_before_it_is_read(plat: Platform) -> None:
    body = b"Headline\n\n" + b"word " * 2_100_000  # over the default 10 MB
    response = plat.push(body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_every_service_reports_health_readiness_and_metrics(plat: Platform) -> None:
    for name in ("ingest", "enrich", "publish"):
        base = plat.url(name)
        assert httpx.get(f"{base}/healthz", timeout=5).json()["status"] == "ok"
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert "newsflow_events" in metrics or "newsflow_http_requests" in metrics


G2_ITEM = """<?xml version="1.0" encoding="UTF-8"?>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="{guid}" version="{version}"
    standard="NewsML-G2" standardversion="2.29" xml:lang="en">
  <itemMeta>
    <itemClass qcode="ninat:text"/>
    <provider qcode="nprov:example"/>
    <versionCreated>2026-06-02T10:0{version}:00+02:00</versionCreated>
    <pubStatus qcode="stat:{status}"/>
    {signal}
  </itemMeta>
  <contentMeta>
    <urgency>3</urgency>
    <headline>{headline}</headline>
  </contentMeta>
  <contentSet>
    <inlineXML contenttype="application/nitf+xml">
      <nitf xmlns="http://iptc.org/std/NITF/2006-10-18/"><body><body.content>
        <p>Dock workers in Rotterdam walked out on Monday over pay, the union FNV said.</p>
        <p>Talks with the port employers will resume on Thursday in The Hague.</p>
      </body.content></body></nitf>
    </inlineXML>
  </contentSet>
</newsItem>"""


def test_a_newsml_g2_chain_of_update_correction_and_cancel(plat: Platform) -> None:
    guid = f"urn:newsml:example.org:20260602:{secrets.token_hex(4)}"
    chain = [(1, "usable", "", "Rotterdam dock strike"),
             (2, "usable", '<signal qcode="sig:update"/>', "Rotterdam dock strike widens"),
             (4, "usable", '<signal qcode="sig:correction"/>', "Rotterdam dock strike (corrected)"),
             (5, "canceled", "", "Rotterdam dock strike")]
    for count, (version, status, signal, headline) in enumerate(chain, start=1):
        item = G2_ITEM.format(guid=guid, version=version, status=status, signal=signal,
                              headline=headline)
        response = plat.push(item, "application/vnd.iptc.g2.newsitem+xml")
        assert response.status_code == 202, response.text
        assert response.json()["results"][0]["uri"] == guid
        plat.wait_published(guid, count=count)  # one at a time: the chain is in order
    events = plat.wait_published(guid, count=4)
    assert [e.data.get("version") for e in events] == [1, 2, 4, 5]
    assert "update" in events[1].data["signals"]
    assert "correction" in events[2].data["signals"]
    assert events[-1].type == "news.article.killed"
    doc = plat.stored(guid)
    assert doc is not None and doc["killed"] and doc["article"]["version"] == 5


def test_a_batch_with_one_bad_item_accepts_the_rest_and_names_the_bad_one(
        plat: Platform) -> None:
    good = f"urn:test:{secrets.token_hex(4)}"
    batch = orjson.dumps([{"uri": good, "headline": "Bridge reopens", "body": "Traffic flows."},
                          {"uri": "", "headline": "No id", "body": "Nothing."}])
    response = plat.push(batch, "application/json")
    assert response.status_code == 202, response.text
    assert [r["uri"] for r in response.json()["results"]] == [good]
    [rejected] = response.json()["rejected"]
    assert (rejected["item"], rejected["field"]) == ("#2", "uri")
    plat.wait_published(good)


def test_an_accepted_story_with_an_unreadable_value_says_what_was_left_out(
        plat: Platform) -> None:
    uri = f"urn:test:{secrets.token_hex(4)}"
    response = plat.push(orjson.dumps({"uri": uri, "headline": "Bridge reopens",
                                       "body": "Traffic flows.", "version": "v-two"}),
                         "application/json")
    assert response.status_code == 202, response.text
    [result] = response.json()["results"]
    assert result["status"] == "accepted" and result["version"] is None
    assert [w["field"] for w in result["warnings"]] == ["version"]
    plat.wait_published(uri)
