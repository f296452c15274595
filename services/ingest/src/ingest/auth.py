"""Source API keys: stored as SHA-256 digests, compared in constant time; a key once proven is
remembered (only keys that matched, so their number stays that of the sources)."""

from __future__ import annotations

import hashlib
import hmac

from ingest.errors import Unauthorized


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class SourceKeys:
    """Maps a presented bearer key to the source it belongs to."""

    def __init__(self, digests: dict[str, str]) -> None:
        self._digests = {source: digest.lower() for source, digest in digests.items()}
        self._proven: dict[str, str] = {}  # presented key -> its source

    def authenticate(self, authorization: str | None) -> str:
        if not authorization:
            raise Unauthorized("missing Authorization: Bearer <source key>", "Authorization")
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("expected Authorization: Bearer <source key>", "Authorization")
        key = key.strip()
        known = self._proven.get(key)
        if known is not None:
            return known
        presented = hash_key(key)
        found = None
        for source, digest in self._digests.items():  # no early exit: constant time
            if hmac.compare_digest(presented, digest):
                found = source
        if found is None:
            raise Unauthorized("unknown source key", "Authorization")
        self._proven[key] = found
        return found
