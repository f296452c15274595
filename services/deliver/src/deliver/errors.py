"""Deliver's exception tree.

    DeliverError
    +-- StoreUnavailable      MongoDB could not be reached or refused the write (retried)
    +-- NotFound              no such subscription or delivery (404)
    +-- BadRequest            a query parameter is wrong (400, names the parameter)
    +-- Invalid               a request body field is not acceptable (422, names the field)
    +-- Unauthorized          the admin API key is missing or wrong (401)
    +-- NotConfigured         the admin API has no key configured (503)
"""

from __future__ import annotations

from shared.errors import ClientFacingError


class DeliverError(ClientFacingError):
    status = 500
    code = "deliver_error"


class StoreUnavailable(DeliverError):
    status = 503
    code = "store_unavailable"


class NotFound(DeliverError):
    status = 404
    code = "not_found"


class BadRequest(DeliverError):
    status = 400
    code = "bad_request"


class Invalid(DeliverError):
    """A request body or parameter is well-formed JSON but not acceptable (422, names the field)."""

    status = 422
    code = "invalid"


class Unauthorized(DeliverError):
    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012


class NotConfigured(DeliverError):
    """A feature needs a setting that is not set (503 with the setting's name)."""

    status = 503
    code = "not_configured"
