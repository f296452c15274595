"""Standard Webhooks signatures: secrets, and the headers a subscriber verifies a delivery by."""

from __future__ import annotations

import base64
import functools
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    """``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_headers(msg_id: str, timestamp: int, body: str,
                      secrets_: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers; one ``v1,...`` entry per valid secret
    (two while a rotated-out secret is still in its overlap window)."""
    when = datetime.fromtimestamp(timestamp, UTC)
    signatures = " ".join(_signer(secret).sign(msg_id, when, body) for secret in secrets_)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


@functools.lru_cache(maxsize=4096)
def _signer(secret: str) -> Webhook:
    """One signer per secret: building it decodes the secret, which costs more than signing."""
    return Webhook(secret)
