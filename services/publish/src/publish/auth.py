"""The admin API guard: ``Authorization: Bearer <NEWSFLOW_ADMIN_KEY>``, in constant time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import SecretStr

from shared.auth import bearer_guard

from publish.errors import NotConfigured, Unauthorized


def admin_guard(key: SecretStr | None) -> Callable[[str | None], Awaitable[None]]:
    """A FastAPI dependency; with no key configured the admin API is off (503), not open."""
    return bearer_guard(key, unauthorized=Unauthorized, not_configured=NotConfigured,
                        off_message="the admin API is disabled: set NEWSFLOW_ADMIN_KEY on the "
                                    "publish service to use the operations dashboard")
