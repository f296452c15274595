"""Retry policy, Retry-After and signatures (checked with the standardwebhooks reference)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks import Webhook

from shared.http import parse_retry_after

from deliver.delivery import RetryPolicy
from deliver.settings import DeliverSettings, retry_schedule
from deliver.signing import new_secret, signature_headers


def test_full_jitter_stays_below_each_ceiling_and_then_gives_up() -> None:
    policy = RetryPolicy([5, 30, 120])
    assert policy.max_attempts == 4
    assert policy.delay(1, rand=lambda: 0.999) == pytest.approx(4.995)
    assert policy.delay(2, rand=lambda: 0.5) == 15
    assert policy.delay(3, rand=lambda: 0.0) == 0
    assert policy.delay(4) is None


def test_retry_after_sets_a_floor_with_a_cap() -> None:
    policy = RetryPolicy([1, 1], retry_after_max_s=60)
    assert policy.delay(1, retry_after=10, rand=lambda: 0.5) == 10
    assert policy.delay(1, retry_after=86400, rand=lambda: 0.5) == 60
    assert policy.delay(2, retry_after=10) == 10
    assert policy.delay(3, retry_after=10) is None  # no attempts left: Retry-After cannot extend


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True),
                             now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True),
                             now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_the_schedule_setting_is_validated() -> None:
    assert retry_schedule("5, 30,120") == [5, 30, 120]
    assert DeliverSettings(webhook_retry_schedule_s="0.1,0.2").retry_schedule == [0.1, 0.2]
    with pytest.raises(ValueError):
        DeliverSettings(webhook_retry_schedule_s="5,soon")


def test_signatures_verify_with_the_reference_implementation() -> None:
    old, new = new_secret(), new_secret()
    assert old.startswith("whsec_") and len(old) == len("whsec_") + 32  # 24 bytes, base64
    body = '{"type":"article.published","data":{"uri":"urn:x"}}'
    now = int(datetime.now(UTC).timestamp())
    headers = signature_headers("sub_1_evt", now, body, [new, old])
    assert headers["webhook-id"] == "sub_1_evt" and headers["webhook-timestamp"] == str(now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(body, headers)["data"]["uri"] == "urn:x"
    assert Webhook(old).verify(body, headers)["data"]["uri"] == "urn:x"
    with pytest.raises(Exception, match="signature"):
        Webhook(new).verify(body.replace("urn:x", "urn:y"), headers)


def test_a_single_secret_gives_one_signature_the_reference_implementation_verifies() -> None:
    secret = new_secret()
    body = '{"type":"article.published","data":{"uri":"urn:x","text":"caf\u00e9"}}'
    now = int(datetime.now(UTC).timestamp())
    headers = signature_headers("sub_1_evt", now, body, [secret])
    assert headers["webhook-signature"].startswith("v1,") and " " not in headers[
        "webhook-signature"]
    assert Webhook(secret).verify(body, headers)["data"]["text"] == "caf\u00e9"
    assert signature_headers("sub_1_evt", now, body.encode(), [secret]) == headers
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)
