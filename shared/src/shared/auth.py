"""The admin-key guard every service with an admin API uses: ``Authorization: Bearer <key>``,
compared in constant time. Each service passes its own error classes, so the errors stay in its
exception tree and its handler answers them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from fastapi import Header
from pydantic import SecretStr

from shared.errors import ClientFacingError

USAGE = "send the admin key as Authorization: Bearer <key>"


def bearer_guard(key: SecretStr | None, *, unauthorized: type[ClientFacingError],
                 not_configured: type[ClientFacingError],
                 off_message: str) -> Callable[[str | None], Awaitable[None]]:
    """A FastAPI dependency; with no key configured the API is off (``not_configured``,
    with ``off_message``), not open."""
    expected = _digest(key.get_secret_value()) if key and key.get_secret_value() else None

    async def require_admin(authorization: str | None = Header(None)) -> None:
        if expected is None:
            raise not_configured(off_message)
        if not authorization or not authorization.strip():
            raise unauthorized(f"no Authorization header: {USAGE}", "authorization")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized(f"the Authorization header is not a bearer token: {USAGE}",
                               "authorization")
        # Digests of equal length: comparing the raw values would reveal the key's length.
        if not hmac.compare_digest(_digest(token.strip()), expected):
            raise unauthorized("the admin key is not valid", "authorization")

    return require_admin


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()
