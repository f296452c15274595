"""Schemathesis against ingest, publish and deliver as processes: no input answers a 5xx.

Cases are generated from each service's own /openapi.json, valid ones and invalid ones, and sent
with the right keys (the ingest source key, the admin key) so they reach the code behind the
authentication. publish holds a few stories first, and part of the cases name them (or the `all`
feed), so that pages, feeds and the read API render real content rather than only answering 404.
The live stream is left out: a valid request to it never ends (tests/test_sse.py covers it).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import hypothesis.strategies as st
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from shared.article import Article
from shared.events import ENRICHED_STREAM, ArticleEnriched

from newsflow_cli.platform import Platform

pytestmark = pytest.mark.e2e

ADMIN_KEY = "fuzz-admin-key-0123456789"
# Per service; a couple of minutes at most for both on a small machine.
EXAMPLES = {"ingest": 400, "publish": 700, "deliver": 400}
# Operations each service must have been called on (deliver holds the admin API since it moved
# out of publish).
OPERATIONS = {"ingest": 4, "publish": 9, "deliver": 12}
MIN_CASES = 1000
LEFT_OUT = "/v1/stream"
STORIES = ["tag:fuzz.example,2026:1", "https://fuzz.example/a/b?c=1&d=<2>",
           "urn:fuzz:\u00e9t\u00e9:\u0000:3"]
# Operations whose path parameters are pinned in part of the cases (to seeded content).
PINNED = {
    "/feeds/{topic}.atom": {"topic": "all"},
    "/feeds/{topic}.json": {"topic": "all"},
    "/stories/{uri}": {"uri": STORIES[1]},
    "/v1/articles/{uri}": {"uri": STORIES[0]},
}


@pytest.fixture(scope="module")
def plat(tmp_path_factory: pytest.TempPathFactory, redis_url: str, mongodb_uri: str,
         isolated_platform: Callable[..., AbstractContextManager[Platform]]
         ) -> Iterator[Platform]:
    with isolated_platform(tmp_path_factory.mktemp("fuzz"), redis_url, mongodb_uri,
                           services=("ingest", "publish", "deliver"),
                           NEWSFLOW_ADMIN_KEY=ADMIN_KEY,
                           NEWSFLOW_LOG_LEVEL="WARNING", NEWSFLOW_BLOCK_MS="100") as platform:
        seed(platform)
        yield platform


@pytest.fixture(scope="module")
def cases() -> Counter[str]:
    return Counter()


def seed(plat: Platform) -> None:
    """Stories with awkward uris and content, published through news.enriched."""
    client = redis.Redis.from_url(plat.redis_url)
    for n, uri in enumerate(STORIES):
        article = Article.model_validate({
            "uri": uri, "version": 1, "source": {"provider": "fuzz", "format": "json"},
            "headlines": [{"value": f"<Story> & \"{n}\" \u202e"}], "language": "en",
            "bodies": [{"value": "Text.\n\nMore \x0b text."},
                       {"contentType": "text/html", "value": "<p>Body &amp; <b>bold</b></p>"}],
            "byline": "<b>Reporter</b>", "versionCreated": datetime.now(UTC),
            "subjects": [{"code": "medtop:11000000", "name": "politics & <government>"}],
            "people": [{"name": "Ada \"Countess\" Lovelace", "firstPosition": 3}],
            "places": [{"name": "Zürich", "salience": 0.5}], "keywords": ["k&k"]})
        client.xadd(plat.stream_prefix + ENRICHED_STREAM,
                    ArticleEnriched.for_article(article, "fuzz").to_fields())
    deadline = time.monotonic() + 15
    for uri in STORIES:
        while httpx.get(f"{plat.url('publish')}/v1/articles/{quote(uri, safe='')}",
                        timeout=5).status_code != 200:
            assert time.monotonic() < deadline, f"{uri} was not published"
            time.sleep(0.05)


def fuzz(base_url: str, key: str, examples: int,
         pinned: dict[str, dict[str, str]]) -> Counter[tuple[str, str, int]]:
    """Send ``examples`` generated requests; fail on the first 5xx (shrunk by Hypothesis)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=10)
    schema = schema.exclude(path=LEFT_OUT)
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    strategies: list[st.SearchStrategy[Any]] = [schema.as_strategy(m) for m in modes]
    for path, parameters in pinned.items():
        strategies += [schema[path]["GET"].as_strategy(m, path_parameters=parameters)
                       for m in modes]
    seen: Counter[tuple[str, str, int]] = Counter()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(strategies))
    def run(case: schemathesis.Case) -> None:
        headers = {"Authorization": f"Bearer {key}", **(case.headers or {})}
        response = case.call(base_url=base_url, headers=headers, timeout=15)
        seen[(case.method, case.path, response.status_code)] += 1
        case.validate_response(response, checks=[not_a_server_error])

    run()
    return seen


@pytest.mark.parametrize("service", sorted(EXAMPLES))
def test_no_generated_request_gets_a_server_error(plat: Platform, cases: Counter[str],
                                                  service: str) -> None:
    key = plat.ingest_key if service == "ingest" else ADMIN_KEY
    seen = fuzz(plat.url(service), key, EXAMPLES[service],
                PINNED if service == "publish" else {})
    cases[service] = sum(seen.values())
    assert not [k for k in seen if k[2] >= 500]
    operations = {(method, path) for method, path, _ in seen}
    assert len(operations) >= OPERATIONS[service], sorted(operations)
    if service == "publish":  # the seeded stories were reached, not only 404s
        answered = {(path, status) for _, path, status in seen}
        for path in PINNED:
            assert (path, 200) in answered, path


def test_enough_cases_were_sent(cases: Counter[str]) -> None:
    if set(cases) != set(EXAMPLES):
        pytest.skip("runs after the fuzzing tests of this module")
    assert sum(cases.values()) >= MIN_CASES, dict(cases)
