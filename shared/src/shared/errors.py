"""The error every service answers a client with: an HTTP status and a JSON body naming the field.

    ClientFacingError        (status, code, message, field) -> {"error": {code, message, field}}

Each service roots its own exception tree here (IngestError, PublishError), so every error a
client can see has the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


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


def validation_body(errors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """FastAPI's validation errors (``exc.errors()``) in this shape, naming the first bad field."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(p for p in loc if not p.isdigit()) or "body"
    return {"error": {"code": "invalid", "message": f"{field}: {first.get('msg', 'invalid')}",
                      "field": field}}
