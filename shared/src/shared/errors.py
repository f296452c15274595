"""The error every service answers a client with: an HTTP status and a JSON body naming the field.

    ClientFacingError        (status, code, message, field) -> {"error": {code, message, field}}

Each service roots its own exception tree here (IngestError, PublishError), so every error a
client can see has the same shape.
"""

from __future__ import annotations


class ClientFacingError(Exception):
    status = 400
    code = "bad_request"
    headers: dict[str, str] | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}
