"""Deliver's metrics: a batch of deliveries counts as the same deliveries one by one would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from deliver.metrics import observe_all

# Bounds themselves (a value on a bound is in that bucket), between them, past the last one.
VALUES = [0.0, 0.01, 0.0100001, 0.3, 1.0, 2.5, 7.0, 60.0, 3600.0, 5000.0, 0.3, 0.004]


def buckets(values: list[float], batched: bool) -> dict[str, float]:
    histogram = Histogram("latency_seconds", "test", registry=CollectorRegistry(),
                          buckets=(0.01, 0.025, 0.5, 1, 2.5, 60, 3600))
    if batched:
        observe_all(histogram, values)
    else:
        for value in values:
            histogram.observe(value)
    return {f"{s.name}{s.labels}": s.value for m in histogram.collect() for s in m.samples
            if not s.name.endswith("_created")}


@pytest.mark.parametrize("values", [VALUES, VALUES[3:5], []])
def test_a_batch_is_observed_as_its_values_one_by_one(values: list[float]) -> None:
    one_by_one, batched = buckets(values, False), buckets(values, True)
    assert batched.keys() == one_by_one.keys()
    for name, value in one_by_one.items():
        assert batched[name] == pytest.approx(value), name
    assert one_by_one["latency_seconds_count{}"] == len(values)
