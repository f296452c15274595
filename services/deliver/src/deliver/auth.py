"""The admin API guard: ``Authorization: Bearer <NEWSFLOW_ADMIN_KEY>``, in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from fastapi import Header
from pydantic import SecretStr

from deliver.errors import NotConfigured, Unauthorized

USAGE = "send the admin key as Authorization: Bearer <key>"


def admin_guard(key: SecretStr | None) -> Callable[[str | None], Awaitable[None]]:
    """A FastAPI dependency; with no key configured the admin API is off (503), not open."""
    expected = _digest(key.get_secret_value()) if key and key.get_secret_value() else None

    async def require_admin(authorization: str | None = Header(None)) -> None:
        if expected is None:
            raise NotConfigured("the admin API is disabled: set NEWSFLOW_ADMIN_KEY on the "
                                "deliver service to manage subscriptions and deliveries")
        if not authorization or not authorization.strip():
            raise Unauthorized(f"no Authorization header: {USAGE}", "authorization")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(f"the Authorization header is not a bearer token: {USAGE}",
                               "authorization")
        # Digests of equal length: comparing the raw values would reveal the key's length.
        if not hmac.compare_digest(_digest(token.strip()), expected):
            raise Unauthorized("the admin key is not valid", "authorization")

    return require_admin


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()
