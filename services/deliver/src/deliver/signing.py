"""Standard Webhooks signatures: secrets, and the headers a subscriber verifies a delivery by.

``v1,`` + base64 of HMAC-SHA256 over ``<webhook-id>.<webhook-timestamp>.<body>`` with the secret's
bytes (base64 after ``whsec_``), as the spec and its reference library define it; computed here
with the decoded key kept per secret, because decoding it again for every delivery cost more
than the HMAC itself. The digest is ``hmac.digest`` (OpenSSL's one-shot HMAC) and its base64 is
binascii's (what ``base64.b64encode`` calls): a delivery is signed thousands of times a second,
and the wrappers, with a generator joined for the usual single secret, were a good part of the
signing's cost. Tests check these headers with the reference library.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    """``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature_headers(msg_id: str, timestamp: int, body: str | bytes,
                      secrets_: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers; one ``v1,...`` entry per valid secret
    (two while a rotated-out secret is still in its overlap window)."""
    if isinstance(body, str):
        body = body.encode()
    signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    if len(secrets_) == 1:
        signatures = _signature(secrets_[0], signed)
    else:
        signatures = " ".join([_signature(s, signed) for s in secrets_])
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


def _signature(secret: str, signed: bytes) -> str:
    digest = hmac.digest(_key(secret), signed, "sha256")
    return "v1," + binascii.b2a_base64(digest, newline=False).decode()


@functools.lru_cache(maxsize=4096)
def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))
