"""Schemathesis against ingest and publish running as processes: no input answers a 5xx.

Cases are generated from each service's own /openapi.json, valid ones and invalid ones, and sent
with the right keys (the ingest source key, the admin key) so they reach the code behind the
authentication. The live stream is left out: a valid request to it never ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from newsflow_cli.platform import Platform

pytestmark = pytest.mark.e2e

ADMIN_KEY = "fuzz-admin-key-0123456789"
# Per service; a couple of minutes at most for both on a small machine.
EXAMPLES = {"ingest": 400, "publish": 700}
MIN_CASES = 1000
LEFT_OUT = "/v1/stream"


@pytest.fixture(scope="module")
def plat(tmp_path_factory: pytest.TempPathFactory, redis_url: str, mongodb_uri: str,
         isolated_platform: Callable[..., AbstractContextManager[Platform]]
         ) -> Iterator[Platform]:
    with isolated_platform(tmp_path_factory.mktemp("fuzz"), redis_url, mongodb_uri,
                           services=("ingest", "publish"), NEWSFLOW_ADMIN_KEY=ADMIN_KEY,
                           NEWSFLOW_LOG_LEVEL="WARNING") as platform:
        yield platform


@pytest.fixture(scope="module")
def cases() -> Counter[str]:
    return Counter()


def fuzz(base_url: str, key: str, examples: int) -> Counter[tuple[str, str, int]]:
    """Send ``examples`` generated requests; fail on the first 5xx (shrunk by Hypothesis)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=10)
    schema = schema.exclude(path=LEFT_OUT)
    strategy = st.one_of(schema.as_strategy(schemathesis.GenerationMode.POSITIVE),
                         schema.as_strategy(schemathesis.GenerationMode.NEGATIVE))
    seen: Counter[tuple[str, str, int]] = Counter()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
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
    seen = fuzz(plat.url(service), key, EXAMPLES[service])
    cases[service] = sum(seen.values())
    statuses = {status for _, _, status in seen}
    assert not {s for s in statuses if s >= 500}
    operations = {(method, path) for method, path, _ in seen}
    assert len(operations) >= (4 if service == "ingest" else 12), sorted(operations)


def test_enough_cases_were_sent(cases: Counter[str]) -> None:
    if set(cases) != set(EXAMPLES):
        pytest.skip("runs after the fuzzing tests of this module")
    assert sum(cases.values()) >= MIN_CASES, dict(cases)
