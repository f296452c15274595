"""Ingest's exception tree; every error becomes a 4xx JSON body naming the field.

    IngestError                      (code, message, field, status)
    +-- Unauthorized                 401: missing or unknown source key
    +-- Forbidden                    403: the story belongs to another source
    +-- PayloadTooLarge              413: request or document over the size limit
    +-- UnsupportedFormat            415: not a format Newsflow reads
    +-- ParseError                   400: the bytes are not a well-formed document
    |   +-- UnsafeDocument           400: DTDs, entity expansion, external references
    +-- InvalidArticle               422: well-formed, but a field is missing or wrong
"""

from __future__ import annotations

from shared.errors import ClientFacingError


class IngestError(ClientFacingError):
    status = 400
    code = "bad_request"


class Unauthorized(IngestError):
    status = 401
    code = "unauthorized"


class Forbidden(IngestError):
    status = 403
    code = "forbidden"


class PayloadTooLarge(IngestError):
    status = 413
    code = "payload_too_large"


class UnsupportedFormat(IngestError):
    status = 415
    code = "unsupported_format"


class ParseError(IngestError):
    status = 400
    code = "parse_error"


class UnsafeDocument(ParseError):
    code = "unsafe_document"


class InvalidArticle(IngestError):
    status = 422
    code = "invalid_article"
