"""The ``newsflow`` command: run the platform, push, follow the public stream, parse, enrich."""

from __future__ import annotations

import json
import mimetypes
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import quote

import httpx
import orjson
import redis
import typer

from shared.events import PUBLISHED_STREAM
from shared.logging import configure_logging

from newsflow_cli.dead_letters import app as dead_letters_app
from newsflow_cli.deliveries import app as deliveries_app
from newsflow_cli.migrate import migrate_topics
from newsflow_cli.platform import (
    SERVICES,
    Platform,
    PlatformError,
    connect_redis,
    masked,
    read_events,
    running,
)
from newsflow_cli.progress import ShowProgress, summary, tracked
from newsflow_cli.stats import stats

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Newsflow: wire stories in, enriched stories out.")

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(dead_letters_app, name="dead-letters")
app.command()(stats)
app.command("migrate-topics")(migrate_topics)


@app.callback()
def _quiet_logs() -> None:
    """Library log lines go to stderr, warnings and up: stdout is the command's output."""
    configure_logging("WARNING", json=False, stream="stderr")


@app.command()
def run(
    demo: Annotated[bool, typer.Option(help="Push the sample stories and show the result")] = True,
    exit_after_demo: Annotated[bool, typer.Option(help="Stop once the demo is shown")] = False,
    workdir: Annotated[Path, typer.Option(help="Logs and the local database")] = Path(".newsflow"),
    redis_url: Annotated[str, typer.Option(envvar="NEWSFLOW_REDIS_URL")] = (
        "redis://127.0.0.1:6379/0"),
    mongodb_uri: Annotated[str, typer.Option(
        envvar="NEWSFLOW_MONGODB_URI", help="empty: start nx-27017 on a free port")] = "",
    key: Annotated[str, typer.Option(
        envvar="NEWSFLOW_LOCAL_KEY", help="ingest key of the 'local' source (default: random)")
    ] = "",
    stream_prefix: Annotated[str, typer.Option(envvar="NEWSFLOW_STREAM_PREFIX",
                                               show_default=False)] = "",
) -> None:
    """Run the whole platform locally: nx-27017 (unless NEWSFLOW_MONGODB_URI is set), ingest,
    enrich, publish and deliver as separate processes against NEWSFLOW_REDIS_URL."""
    platform = Platform(workdir=workdir.resolve(), redis_url=redis_url,
                        mongodb_uri=mongodb_uri or None, stream_prefix=stream_prefix,
                        ingest_key=key or secrets.token_urlsafe(24))
    typer.echo("starting nx-27017, ingest, enrich, publish, deliver ...")
    # SIGTERM (a service manager, `kill`) stops everything like Ctrl-C, not just this process.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with running(platform):
            ingest, publish = platform.url("ingest"), platform.url("publish")
            typer.echo(f"ingest   {ingest}   POST /v1/articles  (key for source "
                       f"'{platform.source}': {platform.ingest_key})")
            typer.echo(f"enrich   {platform.url('enrich')}   /metrics")
            typer.echo(f"publish  {publish}   GET /v1/articles")
            typer.echo(f"deliver  {platform.url('deliver')}   /v1/subscriptions  (admin key: "
                       "NEWSFLOW_ADMIN_KEY)")
            typer.echo(f"mongodb  {platform.mongodb_uri}   redis {masked(platform.redis_url)}")
            typer.echo(f"logs     {platform.workdir}")
            if demo:
                _demo(platform)
            if exit_after_demo:
                return
            typer.echo("running; Ctrl-C stops everything")
            _supervise(platform)
            raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("stopping ...")
    except (PlatformError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _supervise(platform: Platform, max_restarts: int = 5, window_s: float = 60.0,
               stop: threading.Event | None = None) -> None:
    """Restart a service that exits, as compose does; return when one keeps exiting, when
    nx-27017 exits (its data would be gone with it), or when `stop` is set."""
    stop = stop or threading.Event()
    restarts: dict[str, list[float]] = {}
    while not stop.wait(1.0):
        for name, process in list(platform.processes.items()):
            status = process.popen.poll()
            if status is None:
                continue
            recent = [t for t in restarts.get(name, []) if time.monotonic() - t < window_s]
            if name not in SERVICES or len(recent) >= max_restarts:
                typer.echo(f"{name} exited with status {status}; stopping (see "
                           f"{process.log_path})", err=True)
                return
            typer.echo(f"{name} exited with status {status}; restarting it", err=True)
            restarts[name] = [*recent, time.monotonic()]
            assert process.url is not None
            platform.start_service(name, port=int(process.url.rsplit(":", 1)[1]))
            platform.wait_ready(names=(name,))


def _demo(platform: Platform) -> None:
    client = redis.Redis.from_url(platform.redis_url)
    stream = platform.stream_prefix + PUBLISHED_STREAM
    last = "0-0"
    if client.exists(stream):
        last = client.xinfo_stream(stream)["last-generated-id"].decode()
    paths = sorted(SAMPLES.glob("*.txt"))
    wanted: set[str] = set()
    for path in paths:
        results = _post(platform.url("ingest"), platform.ingest_key, path)
        typer.echo(f"pushed   {path.name}: {results}")
        for result in results:
            uri = str(result["uri"])
            if result["status"] == "accepted":
                wanted.add(uri)
                continue
            # Seen by an earlier run: show what publish stored then, if it still has it.
            stored = httpx.get(f"{platform.url('publish')}/v1/articles/{uri}", timeout=10)
            if stored.status_code == 200:
                typer.echo(f"\n{uri} was ingested by an earlier run; stored as:")
                _show(stored.json(), platform.url("publish"))
            else:
                typer.echo(f"{uri} was ingested earlier (a duplicate is not published twice)")
    deadline = time.monotonic() + 120
    while wanted and time.monotonic() < deadline:
        for entry_id, event in read_events(client, stream, last, block_ms=1000):
            last = entry_id
            if event.subject in wanted:
                wanted.discard(event.subject)
                typer.echo(f"\npublished on {stream} as {entry_id} ({event.type})")
                _show(event.data, platform.url("publish"))
    if wanted:
        raise PlatformError(f"not published within 120s: {sorted(wanted)}; see the logs in "
                            f"{platform.workdir}")


def _show(data: dict[str, Any], publish_url: str) -> None:
    names = {kind: [e["name"] for e in data.get(kind, [])]
             for kind in ("people", "organisations", "places")}
    summary = " ".join(d["value"] for d in data.get("descriptions", []))
    typer.echo(f"  headline:  {data['headlines'][0]['value'] if data.get('headlines') else ''}")
    typer.echo(f"  language:  {data.get('language')}   words: {data.get('wordCount')}")
    for kind, values in names.items():
        typer.echo(f"  {kind + ':':14} {', '.join(values)}")
    typer.echo(f"  keywords:  {', '.join(data.get('keywords', []))}")
    topics = [f"{s.get('name')} ({s.get('code')})" for s in data.get("subjects", [])]
    typer.echo(f"  topics:    {', '.join(topics)}")
    typer.echo(f"  summary:   {summary}")
    typer.echo(f"  stored:    {publish_url}/v1/articles/{data['uri']}")
    typer.echo(f"  page:      {publish_url}/stories/{quote(data['uri'], safe=':,')}")


@app.command()
def push(
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    url: Annotated[str, typer.Option(envvar="NEWSFLOW_INGEST_URL")] = "http://127.0.0.1:8001",
    key: Annotated[str, typer.Option(envvar="NEWSFLOW_KEY", help="source API key")] = "",
    progress: ShowProgress = None,
) -> None:
    """Push files to ingest (the format is detected from the content). Ctrl-C stops between
    two files; pushing the same files again carries on (ingest answers what it already has as
    duplicate, and queues nothing twice)."""
    failed = 0
    interrupted = False
    with tracked(len(paths), "pushing", progress) as tally:
        try:
            for path in paths:
                try:
                    results = _post(url, key, path)
                    typer.echo(f"{path}: {json.dumps(results)}")
                    for result in results:
                        tally.add(str(result.get("status")))
                except PlatformError as exc:
                    failed += 1
                    typer.echo(f"{path}: {exc}", err=True)
                tally.advance()
        except KeyboardInterrupt:
            interrupted = True
    summary(f"pushed {tally.done - failed} of {len(paths)} file(s), {failed} failed: "
            f"{tally.describe(('accepted', 'duplicate'))} stories", interrupted=interrupted,
            resume="push the same files again to carry on (what ingest has is not queued twice)")
    if failed:
        raise typer.Exit(1)


def _post(url: str, key: str, path: Path) -> list[dict[str, object]]:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    try:
        response = httpx.post(f"{url}/v1/articles", content=path.read_bytes(), timeout=30,
                              headers={"Authorization": f"Bearer {key}",
                                       "Content-Type": content_type})
    except (httpx.HTTPError, OSError) as exc:
        raise PlatformError(f"cannot push to {url}: {exc}") from exc
    if response.status_code != 202:
        raise PlatformError(f"HTTP {response.status_code}: {response.text}")
    results: list[dict[str, object]] = response.json()["results"]
    return results


@app.command()
def tail(
    redis_url: Annotated[str, typer.Option(envvar="NEWSFLOW_REDIS_URL")] = "redis://127.0.0.1:6379/0",
    from_start: Annotated[bool, typer.Option("--from-start", help="Replay from the start")] = False,
    count: Annotated[int, typer.Option(min=0, help="Stop after this many events (0: never)")] = 0,
    stream_prefix: Annotated[str, typer.Option(envvar="NEWSFLOW_STREAM_PREFIX",
                                               show_default=False)] = "",
) -> None:
    """Follow news.published and print each event as one JSON line."""
    try:
        client = connect_redis(redis_url)
        stream = stream_prefix + PUBLISHED_STREAM
        # The newest entry now, not "$": "$" means "after the newest" at each read, and an
        # event arriving between two reads would be skipped.
        newest = cast(list[tuple[bytes, Any]], client.xrevrange(stream, count=1))
        last = "0-0" if from_start or not newest else newest[0][0].decode()
        seen = 0
        while True:
            for entry_id, event in read_events(client, stream, last,
                                               block_ms=1000):  # under redis-py's 5 s timeout
                last = entry_id
                typer.echo(json.dumps({"entry_id": entry_id, "id": event.id, "type": event.type,
                                       "subject": event.subject, "time": event.time.isoformat(),
                                       "data": event.data}))
                seen += 1
                if count and seen >= count:
                    return
    except (PlatformError, redis.RedisError) as exc:
        typer.echo(f"tail: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def parse(path: Annotated[Path, typer.Argument(dir_okay=False)]) -> None:
    """Print the canonical articles in a file as a JSON array; items left out and values not
    used are said on stderr."""
    from ingest.errors import IngestError
    from ingest.parsing import parse_checked

    configure_logging("ERROR", json=False, stream="stderr")  # it says the same itself, below
    try:
        raw = path.read_bytes()
        parsed = parse_checked(raw, mimetypes.guess_type(path.name)[0], provider="cli")
    except OSError as exc:
        typer.echo(f"{path}: cannot read: {exc.strerror}", err=True)
        raise typer.Exit(1) from exc
    except IngestError as exc:
        where = f" ({exc.field})" if exc.field else ""
        typer.echo(f"{path}: {exc.code}{where}: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    for article, notices in zip(parsed.articles, parsed.notices, strict=True):
        for notice in notices:
            typer.echo(f"{path}: {article.uri}: {notice.field}: {notice.message}", err=True)
    for rejection in parsed.rejections:
        error = rejection.error
        typer.echo(f"{path}: item {rejection.item} left out: {error.code}"
                   f"{f' ({error.field})' if error.field else ''}: {error.message}", err=True)
    sys.stdout.write(orjson.dumps([a.wire() for a in parsed.articles],
                                  option=orjson.OPT_INDENT_2).decode() + "\n")


@app.command()
def enrich(
    path: Annotated[Path | None, typer.Argument(dir_okay=False)] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help='{"id","text"} lines on stdin')] = False,
) -> None:
    """Enrich offline, no servers needed: a file, or JSON lines on stdin with --jsonl."""
    from newsflow_cli.offline import enrich_file, enrich_jsonl

    if jsonl and path is not None:
        typer.echo("give a PATH or --jsonl, not both", err=True)
        raise typer.Exit(2)
    if jsonl:
        enrich_jsonl(sys.stdin, sys.stdout)
    elif path is not None:
        try:
            enrich_file(path, sys.stdout)
        except ValueError as exc:
            typer.echo(f"{path}: {exc}", err=True)
            raise typer.Exit(1) from exc
    else:
        typer.echo("give a PATH or --jsonl", err=True)
        raise typer.Exit(2)


@app.command("hash-key")
def hash_key_command(key: str) -> None:
    """Print the digest to put in NEWSFLOW_INGEST_KEYS for a source key."""
    from ingest.auth import hash_key

    typer.echo(hash_key(key))


if __name__ == "__main__":
    app()
