"""``newsflow dead-letters``: the entries a service gave up on, and replaying them once fixed."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, cast

import redis
import typer

from shared.dead_letters import dead_letter_ids, dead_letters, replay_each
from shared.events import ENRICHED_STREAM, INGESTED_STREAM, PUBLISHED_STREAM
from shared.streams import DLQ_SUFFIX

from newsflow_cli.platform import PlatformError, connect_redis
from newsflow_cli.progress import ShowProgress, summary, tracked

STREAMS = (INGESTED_STREAM, ENRICHED_STREAM, PUBLISHED_STREAM)
ENTRY_ID = re.compile(r"\d+-\d+")

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Stream entries a service dead-lettered (<stream>.dlq): list, replay.")

Stream = Annotated[str, typer.Argument(
    help=f"the input stream: {', '.join(STREAMS)} (its .dlq is read)")]
RedisUrl = Annotated[str, typer.Option(envvar="NEWSFLOW_REDIS_URL")]
Prefix = Annotated[str, typer.Option(envvar="NEWSFLOW_STREAM_PREFIX", show_default=False)]
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@app.command("list")
def list_dead_letters(
    stream: Stream,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    redis_url: RedisUrl = DEFAULT_REDIS,
    stream_prefix: Prefix = "",
) -> None:
    """The oldest dead letters of a stream, with why each one failed."""
    letters = dead_letters(_client(redis_url), _name(stream, stream_prefix), limit)
    for letter in letters:
        if as_json:
            typer.echo(json.dumps(letter.summary()))
            continue
        when = datetime.fromtimestamp(letter.time_ms / 1000, UTC).isoformat(timespec="seconds")
        summary = letter.summary()
        typer.echo(f"{letter.id}  {when}  attempts={letter.attempts}  "
                   f"{summary['subject'] or '-'}  {letter.error}")
    if not letters and not as_json:
        typer.echo(f"no dead letters on {stream}", err=True)


@app.command("replay")
def replay_dead_letters(
    stream: Stream,
    ids: Annotated[list[str] | None, typer.Argument(help="dead letter ids")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead letter of the stream")] = False,
    redis_url: RedisUrl = DEFAULT_REDIS,
    stream_prefix: Prefix = "",
    progress: ShowProgress = None,
) -> None:
    """Append dead letters to their stream again (same event id, attempts start over)."""
    if bool(ids) == all_:
        typer.echo("give dead letter IDs or --all", err=True)
        raise typer.Exit(2)
    malformed = [i for i in ids or [] if not ENTRY_ID.fullmatch(i)]
    if malformed:
        typer.echo(f"not a stream entry id: {', '.join(malformed)} (like 1700000000000-0)",
                   err=True)
        raise typer.Exit(2)
    client = _client(redis_url)
    name = _name(stream, stream_prefix)
    targets = dead_letter_ids(client, name) if all_ else list(ids or [])
    missing: list[str] = []
    interrupted = False
    with tracked(len(targets), f"replaying {stream}{DLQ_SUFFIX}", progress) as tally:
        try:
            for dead_id, new_id in replay_each(client, name, targets):
                if new_id is None:
                    missing.append(dead_id)
                    typer.echo(f"no dead letter {dead_id} on {stream}", err=True)
                else:
                    tally.add("replayed")
                    typer.echo(f"replayed {dead_id} as {new_id}")
                tally.advance()
        except KeyboardInterrupt:
            interrupted = True
    left = int(cast(int, client.xlen(name + DLQ_SUFFIX)))
    summary(f"{tally.counts['replayed']} entry(ies) appended again to {stream}, "
            f"{len(missing)} not found, {left} left on {stream}{DLQ_SUFFIX}",
            interrupted=interrupted,
            resume="run the same command again for the rest (none is appended twice)")
    if missing and not all_:
        raise typer.Exit(1)


def _name(stream: str, prefix: str) -> str:
    stream = stream.removesuffix(DLQ_SUFFIX)
    if stream not in STREAMS:
        typer.echo(f"unknown stream {stream!r}; one of {', '.join(STREAMS)}", err=True)
        raise typer.Exit(2)
    return prefix + stream


def _client(url: str) -> redis.Redis:
    try:
        return connect_redis(url)
    except PlatformError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
