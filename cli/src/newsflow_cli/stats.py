"""``newsflow stats``: the operational snapshot in the terminal, for people and for probes.

The same snapshot as publish's ``/dashboard`` (``shared.ops``), read straight from Redis.
Exit status: 0 all stages consume; 1 a stage is stuck (work waiting, nothing consumed for
``--stuck-after`` seconds); 3 Redis cannot be read.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from redis.asyncio import Redis
from redis.exceptions import RedisError
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from shared.ops import OpsReader, Snapshot

STUCK = 1
UNREADABLE = 3
BARS = "▁▂▃▄▅▆▇█"
STYLE = {"ok": "green", "amber": "yellow", "red": "bold red"}


def stats(
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until Ctrl-C")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The snapshot as JSON (one line per "
                                                         "refresh with --watch)")] = False,
    stuck_after: Annotated[float, typer.Option(
        min=0.1, help="Seconds with work waiting and nothing consumed before a stage counts as "
                      "stuck (exit status 1)")] = 300.0,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between refreshes")] = 2.0,
    redis_url: Annotated[str, typer.Option(envvar="NEWSFLOW_REDIS_URL")] = (
        "redis://127.0.0.1:6379/0"),
    stream_prefix: Annotated[str, typer.Option(envvar="NEWSFLOW_STREAM_PREFIX",
                                               show_default=False)] = "",
) -> None:
    """Each stage's rate, lag, pending, dead letters and replicas; webhook health; the latest
    published stories. Exit status 1 when a stage is stuck, so it can serve as a probe."""
    code = asyncio.run(_run(redis_url, stream_prefix, stuck_after, watch, as_json, interval))
    raise typer.Exit(code)


async def _run(redis_url: str, prefix: str, stuck_after: float, watch: bool, as_json: bool,
               interval: float) -> int:
    redis = Redis.from_url(redis_url, socket_connect_timeout=5)
    reader = OpsReader(redis, prefix, stuck_after_s=stuck_after)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a pipe or a log: no terminal width to fit
    try:
        snap = await reader.snapshot()
        if not watch:
            _show(console, snap, as_json)
            return STUCK if snap.stuck else 0
        if as_json:
            while True:
                _show(console, snap, as_json)
                await asyncio.sleep(interval)
                snap = await reader.snapshot()
        with Live(render(snap), console=console, auto_refresh=False) as live:
            while True:
                await asyncio.sleep(interval)
                snap = await reader.snapshot()
                live.update(render(snap), refresh=True)
    except (RedisError, OSError) as exc:
        Console(stderr=True).print(f"stats: cannot read Redis: {exc}", markup=False)
        return UNREADABLE
    except (KeyboardInterrupt, asyncio.CancelledError):
        return STUCK if snap.stuck else 0
    finally:
        await redis.aclose()


def _show(console: Console, snap: Snapshot, as_json: bool) -> None:
    if as_json:
        print(orjson.dumps(snap.to_dict()).decode(), flush=True)
    else:
        console.print(render(snap))


def render(snap: Snapshot) -> Group:
    """The snapshot as rich tables: stages, dead letters, replicas, webhooks, latest stories."""
    stages = Table(title=f"Newsflow stages at {_time(snap.time_ms)} (rate /s over 5 min; "
                         f"SSE clients: {_n(snap.sse_clients)})", title_justify="left")
    for column in ("stage", "status", "rate /s", "15 min", "through", "lag", "pending",
                   "oldest pending", "replicas", "dead"):
        stages.add_column(column, no_wrap=True, justify="left" if column in (
            "stage", "status", "15 min") else "right")
    reasons = Text()
    for s in snap.stages:
        consuming = sum(1 for r in s.replicas if r.consuming)
        stages.add_row(
            s.name, Text(s.status, style=STYLE[s.status]), _rate(s.rate_per_s),
            _spark(s.series), _n(s.through), _n(s.lag) if s.group else "-",
            _n(s.pending) if s.group else "-", _age(s.oldest_pending_age_s),
            f"{consuming}/{len(s.replicas)}" if s.group else "-",
            _n(s.dead_letters) if s.group else "-")
        for reason in s.reasons:
            reasons.append(f"{s.name}: {reason}\n", style=STYLE[s.status])
    parts: list[Table | Text] = [stages]
    if reasons:
        parts.append(reasons)
    dead = [(s.name, d) for s in snap.stages for d in s.latest_dead]
    if dead:
        table = Table(title="Latest dead letters", title_justify="left")
        for column in ("stage", "when", "attempts", "story", "reason"):
            table.add_column(column)
        for name, d in dead:
            table.add_row(name, _time(d.time_ms), str(d.attempts), d.subject or "-", d.error)
        parts.append(table)
    if snap.webhooks:
        table = Table(title="Webhook subscriptions", title_justify="left")
        for column in ("subscription", "state", "success 1h", "delivered 1h", "dead 1h",
                       "queued", "dead", "last error"):
            table.add_column(column)
        for w in snap.webhooks:
            state = ("unknown" if w.disabled is None else
                     f"disabled {w.disabled_reason or ''}".strip() if w.disabled else "enabled")
            table.add_row(w.subscription, Text(state, style=STYLE[w.status]),
                          "-" if w.success_rate is None else f"{w.success_rate:.1%}",
                          _n(w.delivered_1h), _n(w.dead_1h), _n(w.queued), _n(w.dead),
                          w.last_error or "-")
        parts.append(table)
    if snap.latest:
        table = Table(title="Latest published", title_justify="left")
        for column in ("when", "headline", "topics", "entities"):
            table.add_column(column)
        for story in snap.latest:
            table.add_row(_time(story.time_ms), story.headline or story.uri,
                          "; ".join(story.topics), "; ".join(story.entities))
        parts.append(table)
    return Group(*parts)


def _spark(series: list[float | None]) -> str:
    known = [v for v in series if v is not None]
    top = max(known, default=0) or 1
    return "".join(" " if v is None else BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1)))]
                   for v in series)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 10 else f"{value:.0f}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f}min"


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S") if ms else "-"


