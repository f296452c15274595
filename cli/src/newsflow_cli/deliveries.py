"""``newsflow deliveries``: list webhook deliveries and replay dead-lettered ones.

Talks to the deliver service's admin API (``/v1/deliveries``), so the queue logic stays in one
place: the service.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer

from newsflow_cli.progress import ShowProgress, summary, tracked

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Webhook deliveries: list queued or dead-lettered ones, replay dead ones.")

Url = Annotated[str, typer.Option(envvar="NEWSFLOW_DELIVER_URL", help="deliver service URL")]
Key = Annotated[str, typer.Option(envvar="NEWSFLOW_ADMIN_KEY", help="admin API key",
                                  show_default=False)]
DEFAULT_URL = "http://127.0.0.1:8004"
LIST_MAX = 1000  # the most /v1/deliveries lists at once


@app.command("list")
def list_deliveries(
    subscription: Annotated[str | None, typer.Option(help="only this subscription")] = None,
    status: Annotated[str, typer.Option(help="dead or queued")] = "dead",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    url: Url = DEFAULT_URL,
    key: Key = "",
) -> None:
    """Dead-lettered (default) or queued deliveries with their attempt history."""
    params: dict[str, Any] = {"status": status, "limit": limit}
    if subscription:
        params["subscription"] = subscription
    items = _call("GET", url, key, "/v1/deliveries", params=params)["items"]
    for item in items:
        if as_json:
            typer.echo(json.dumps(item))
            continue
        attempts = [a for a in item["attempts"] if not a.get("replayed")]
        last = attempts[-1] if attempts else {}
        outcome = last.get("status") or last.get("error") or "-"
        typer.echo(f"{item['id']}  {item['type']}  {item['status']}  attempts={len(attempts)}"
                   f"  last={outcome}  {item.get('reason') or ''}".rstrip())
    if not items and not as_json:
        typer.echo(f"no {status} deliveries", err=True)


@app.command()
def replay(
    delivery_id: Annotated[str | None, typer.Argument(help="a dead-lettered delivery id")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead-lettered delivery")] = False,
    subscription: Annotated[str | None, typer.Option(help="with --all: only this one")] = None,
    url: Url = DEFAULT_URL,
    key: Key = "",
    progress: ShowProgress = None,
) -> None:
    """Queue dead-lettered deliveries again (same webhook-id; the schedule starts over).

    With --all, one request per delivery: Ctrl-C stops between two, and the same command run
    again replays the rest (a replayed delivery is no longer dead, so none is queued twice)."""
    if bool(delivery_id) == all_:
        typer.echo("give one delivery ID or --all", err=True)
        raise typer.Exit(2)
    if not all_:
        result = _call("POST", url, key, f"/v1/deliveries/{delivery_id}/replay")
        for replayed in result["replayed"]:
            typer.echo(f"replayed {replayed}")
        typer.echo(f"{len(result['replayed'])} delivery(ies) queued again", err=True)
        return
    params: dict[str, Any] = {"status": "dead", "limit": LIST_MAX}
    if subscription:
        params["subscription"] = subscription
    tried: set[str] = set()
    todo = [i["id"] for i in _call("GET", url, key, "/v1/deliveries", params=params)["items"]]
    interrupted = False
    with tracked(len(todo), "replaying dead deliveries", progress) as tally:
        try:
            while todo:
                for delivery in todo:
                    tried.add(delivery)
                    done = _call("POST", url, key, f"/v1/deliveries/{delivery}/replay",
                                 missing_ok=True)
                    if done:
                        tally.add("queued again")
                        typer.echo(f"replayed {delivery}")
                    else:  # replayed meanwhile (another operator), or deleted
                        tally.add("no longer dead")
                    tally.advance()
                # A listing holds at most LIST_MAX: ask again until nothing new is dead.
                listed = _call("GET", url, key, "/v1/deliveries", params=params)["items"]
                todo = [i["id"] for i in listed if i["id"] not in tried]
                tally.grow(len(todo))
        except KeyboardInterrupt:
            interrupted = True
    summary(f"{tally.describe(('queued again', 'no longer dead'))} of {tally.done} "
            f"delivery(ies) tried", interrupted=interrupted,
            resume="run the same command again for the rest (none is queued twice)")


def _call(method: str, url: str, key: str, path: str, *, missing_ok: bool = False,
          **kwargs: Any) -> dict[str, Any]:
    """The answer's JSON; with ``missing_ok``, {} for a 404. Exits with a message on errors."""
    try:
        response = httpx.request(method, url.rstrip("/") + path, timeout=30,
                                 headers={"Authorization": f"Bearer {key}"}, **kwargs)
    except httpx.HTTPError as exc:
        typer.echo(f"cannot reach deliver at {url}: {exc}", err=True)
        raise typer.Exit(1) from exc
    if missing_ok and response.status_code == 404:
        return {}
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        typer.echo(f"HTTP {response.status_code}: {message}", err=True)
        raise typer.Exit(1)
    body: dict[str, Any] = response.json()
    return body
