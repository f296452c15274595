"""Publish's exception tree.

    PublishError
    +-- StoreUnavailable      MongoDB could not be reached or refused the write (retried)
    +-- NotFound              no such story (404 on the read API)
    +-- BadRequest            a query parameter is wrong (400, names the parameter)
"""

from __future__ import annotations


class PublishError(Exception):
    status = 500
    code = "publish_error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class StoreUnavailable(PublishError):
    status = 503
    code = "store_unavailable"


class NotFound(PublishError):
    status = 404
    code = "not_found"


class BadRequest(PublishError):
    status = 400
    code = "bad_request"
