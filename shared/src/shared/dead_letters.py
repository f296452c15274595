"""Dead-lettered stream entries (``<stream>.dlq``): read them back, replay them once fixed.

A dead letter is the original entry's fields plus ``dlq_*`` fields saying where it came from and
why it failed (see ``shared.streams``). Replaying appends the original fields to their stream
again as a new entry, with fresh attempts, and removes the dead letter, in one transaction. The
event id is unchanged, so a consumer that did handle it after all treats it as a repeat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from shared.streams import DLQ_SUFFIX

DLQ_PREFIX = b"dlq_"


@dataclass(frozen=True)
class DeadLetter:
    id: str  # on the dead-letter stream
    stream: str  # where it came from
    entry_id: str  # its id there
    attempts: int
    error: str
    time_ms: int
    fields: dict[bytes, bytes]  # the original entry

    @classmethod
    def of(cls, entry_id: Any, fields: dict[bytes, bytes]) -> DeadLetter:
        def field(name: str) -> str:
            return fields.get(DLQ_PREFIX + name.encode(), b"").decode(errors="replace")

        return cls(
            id=_text(entry_id), stream=field("stream"), entry_id=field("entry_id"),
            attempts=int(field("attempts") or 0), error=field("error"),
            time_ms=int(field("time_ms") or 0),
            fields={k: v for k, v in fields.items() if not k.startswith(DLQ_PREFIX)})

    def summary(self) -> dict[str, Any]:
        original = {k.decode(errors="replace"): v.decode(errors="replace")
                    for k, v in self.fields.items()}
        return {"id": self.id, "stream": self.stream, "entry_id": self.entry_id,
                "attempts": self.attempts, "error": self.error, "time_ms": self.time_ms,
                "type": original.get("ce_type"), "subject": original.get("ce_subject"),
                "event_id": original.get("ce_id")}


def dead_letters(client: redis.Redis, stream: str, limit: int = 100) -> list[DeadLetter]:
    """The oldest dead letters of ``stream`` (the input stream's name, not the .dlq's)."""
    entries: Any = client.xrange(stream + DLQ_SUFFIX, count=limit)
    return [DeadLetter.of(entry_id, fields) for entry_id, fields in entries]


# KEYS: dlq stream; ARGV: dead letter id -> the new entry id, or nil if it is not there (any
# more). One script, so two operators replaying at once cannot append it twice.
_REPLAY = """
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return false end
local fields, original = found[1][2], {}
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 4) ~= 'dlq_' then
    table.insert(original, fields[i])
    table.insert(original, fields[i + 1])
  end
end
local id = redis.call('XADD', KEYS[2], '*', unpack(original))
redis.call('XDEL', KEYS[1], ARGV[1])
return id
"""


def dead_letter_ids(client: redis.Redis, stream: str) -> list[str]:
    """Every dead letter id of ``stream``, oldest first."""
    entries: Any = client.xrange(stream + DLQ_SUFFIX)
    return [_text(entry_id) for entry_id, _ in entries]


def replay_each(client: redis.Redis, stream: str,
                ids: list[str]) -> Iterator[tuple[str, str | None]]:
    """Replay dead letters one script each, yielding each id with its new entry id (None when
    it is not there any more). Stopped between two, nothing is half done; stopped during one,
    that one is either replayed (and gone from the .dlq) or not: run again, none repeats."""
    dlq = stream + DLQ_SUFFIX
    script = client.register_script(_REPLAY)
    for dead_id in ids:
        new_id = script(keys=[dlq, stream], args=[dead_id])
        yield dead_id, None if new_id is None else _text(new_id)


def replay(client: redis.Redis, stream: str, ids: list[str] | None = None) -> dict[str, str]:
    """Replay the given dead letters of ``stream`` (all when ``ids`` is None); returns each
    replayed dead letter's id with its new entry id. Unknown ids are left out of the answer."""
    if ids is None:
        ids = dead_letter_ids(client, stream)
    return {dead_id: new_id for dead_id, new_id in replay_each(client, stream, ids)
            if new_id is not None}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
