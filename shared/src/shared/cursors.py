"""Keyset-pagination cursors: the last (Int64 key, id) of a page, as an opaque URL-safe string.

The read API pages stories by (publishedMs, uri) and the admin API subscriptions by
(createdMs, id); both hand out and take back the same cursor form.
"""

from __future__ import annotations

import base64


def encode_cursor(key: int, doc_id: str) -> str:
    raw = f"{key}|{doc_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The (key, id) a cursor holds; ValueError for anything this module did not write."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except UnicodeDecodeError as exc:
        raise ValueError("not a cursor") from exc
    key, _, doc_id = raw.partition("|")
    if not 0 <= int(key) < 2**63:  # an Int64 key
        raise ValueError(key)
    return int(key), doc_id
