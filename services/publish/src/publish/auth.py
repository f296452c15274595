"""The admin API guard: ``Authorization: Bearer <NEWSFLOW_ADMIN_KEY>``, in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Header
from pydantic import SecretStr

from publish.errors import NotConfigured, Unauthorized


def admin_guard(key: SecretStr | None) -> Callable[[str | None], Awaitable[None]]:
    """A FastAPI dependency; with no key configured the admin API is off (503), not open."""
    expected = key.get_secret_value().encode() if key and key.get_secret_value() else None

    async def require_admin(authorization: str | None = Header(None)) -> None:
        if expected is None:
            raise NotConfigured("the admin API is disabled: set NEWSFLOW_ADMIN_KEY on the "
                                "publish service to manage subscriptions and deliveries")
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                 expected):
            raise Unauthorized("send the admin key as Authorization: Bearer <key>",
                               "authorization")

    return require_admin
