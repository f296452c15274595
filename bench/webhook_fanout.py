"""deliver's fan-out alone: its CPU per delivery and per story, optionally beside a git revision's.

`FanOut` (deliver's handler of the ``webhooks`` group) runs in a process of its own over stories
announced as publish announces them (source ``newsflow/publish``, the enriched article's wire
form dumped by orjson: about 9 KB with ``--words 350``, two thirds of it entities and their
mentions; with ``--plain``, bench/webhooks.py's stories instead: 3.5 KB of text, no entities),
read back from a stream of the bench's own in batches of a full read (100 entries, as
``GroupConsumer`` hands them over) and queued by a real `DeliveryQueue` on the local Redis under
a key prefix of its own (removed afterwards).
The subscriptions are real `SubscriptionRegistry` entries loaded from a small in-memory list,
all created before the stories; the process is tuned as deliver's is once started (each
revision's own tuning). No HTTP, no sending: only the CPU of the handler calls
(``time.process_time`` around each) is counted, Redis's own is not; so are the page faults.

Cases: ``1`` one subscription without filters, ``10`` ten without filters, ``10f`` ten whose
content filters (language and topic) every story passes. Each prints the CPU µs per delivery and
per story, the best of ``--rounds`` (a warm-up round first).

``--baseline REV`` runs the fan-out as it was at a git revision too (its ``services/deliver/src``
and ``shared/src`` first on the path), in turn with the current one every round: before and
after in one run.

    nice -n 10 uv run --frozen python bench/webhook_fanout.py [--stories 2000] [--rounds 5]
        [--cases 1,10,10f] [--words 350 | --plain] [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from devdata import DATA
from pipeline import load_texts, stories
from publish_speed import enriched
from webhooks import _checkout

KINDS = 100  # different stories
BATCH = 100  # a full read of deliver's consumer (batch_size 100, one batch in hand)
FILTERS = {"language": "en", "topics": ["medtop:04000000"]}  # every story passes them


def side(args: argparse.Namespace) -> None:
    """``--side``: one case, in this process, with whatever ``deliver`` is first on the path;
    prints one JSON line."""
    import uvloop

    print(json.dumps(uvloop.run(_side(args))))  # deliver's event loop


async def _side(args: argparse.Namespace) -> dict[str, Any]:
    import orjson
    from redis.asyncio import BlockingConnectionPool, Redis

    from shared.events import PUBLISHED_STREAM, ArticleIngested, ArticlePublished
    from shared.logging import configure_logging
    from shared.redis_packing import HiredisPackedConnection
    from shared.runtime import settle_heap
    from shared.streams import Entry

    from deliver import app as deliver_app
    from deliver.handlers import FanOut
    from deliver.queue import DeliveryQueue
    from deliver.registry import SubscriptionRegistry
    from deliver.store import SubscriptionRecord

    configure_logging("INFO", json=True, stream="stderr")  # deliver's default level
    redis = Redis(connection_pool=BlockingConnectionPool.from_url(
        args.redis_url, max_connections=50, timeout=30,
        connection_class=HiredisPackedConnection))
    prefix = f"bench-fanout-{secrets.token_hex(4)}:"
    stream = prefix + PUBLISHED_STREAM
    records = [SubscriptionRecord(
        id=f"sub_{n}", url="https://example.com/hook", filters=FILTERS if args.filtered else {},
        enabled=True, description="", secret="whsec_x", previous_secret=None,
        previous_secret_expires_ms=0, created_ms=0, updated_ms=0, disabled_reason=None)
        for n in range(args.subscriptions)]

    class Records:
        async def all(self) -> list[Any]:
            return records

    registry = SubscriptionRegistry(Records(), redis, key_prefix=prefix)  # type: ignore[arg-type]
    await registry.load()
    fan_out = FanOut(registry, DeliveryQueue(redis, prefix), lambda subscription: None,
                     full_batch=BATCH)
    # Stories of different texts, each announced under uris of its own (a story per uri).
    kinds = [_plain(n) if args.plain else
             enriched("urn:bench", headline, " ".join(body.split()[:args.words]))
             for n, (headline, body) in enumerate(stories(load_texts(args.data), KINDS, 0))]

    async def announce(count: int, start: int) -> None:
        pipe = redis.pipeline(transaction=False)
        for n in range(start, start + count):
            cause = ArticleIngested(id=secrets.token_hex(16), type=ArticleIngested.TYPE,
                                    source="bench", time=datetime.now(UTC), subject="urn:bench")
            wire = {**kinds[n % KINDS], "uri": f"urn:bench:{prefix}{n}"}
            event = ArticlePublished.follow_wire(cause, wire, "newsflow/publish",
                                                 wire_json=orjson.dumps(wire))
            pipe.xadd(stream, event.to_fields())
        await pipe.execute()

    last = "-"  # the last entry read

    async def run(count: int, start: int) -> tuple[float, int, int]:
        """CPU seconds and page faults of the handler over ``count`` new stories, and the
        deliveries queued."""
        nonlocal last
        await announce(count, start)
        cpu = 0.0
        faults = 0
        read = 0
        while read < count:
            reply = await redis.xrange(stream, min=last if last == "-" else f"({last}", max="+",
                                       count=BATCH)
            batch = [Entry(i.decode(), fields, 1) for i, fields in reply]
            if not batch:
                break
            last = batch[-1].id
            read += len(batch)
            started, faulted = time.process_time(), _minor_faults()
            outcomes = await fan_out(batch)
            cpu += time.process_time() - started
            faults += _minor_faults() - faulted
            if any(o.error for o in outcomes):
                raise SystemExit(f"fan-out failed: {[o.error for o in outcomes if o.error][:3]}")
        depth = await fan_out.queue.total_depth([r.id for r in records])
        return cpu, faults, depth

    try:
        settle_heap()  # as deliver does once started, and then, where it does:
        if hasattr(deliver_app, "KEPT_MEMORY"):
            from shared.runtime import keep_freed_memory

            keep_freed_memory(deliver_app.KEPT_MEMORY)
        await run(200, 0)  # warm-up
        queued_before = await fan_out.queue.total_depth([r.id for r in records])
        cpu, faults, depth = await run(args.stories, 1_000_000)
        deliveries = depth - queued_before
        if deliveries != args.stories * args.subscriptions:
            raise SystemExit(f"{deliveries} deliveries queued, "
                             f"{args.stories * args.subscriptions} expected")
        [(_, first)] = await redis.xrange(stream, count=1)
        return {"us_per_delivery": cpu * 1e6 / deliveries,
                "us_per_story": cpu * 1e6 / args.stories,
                "faults_per_delivery": faults / deliveries, "data_bytes": len(first[b"data"])}
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start:start + 1000])
        await redis.aclose()


def _plain(n: int) -> dict[str, Any]:
    """A story as bench/webhooks.py announces it."""
    from shared.article import Article, Source, Subject

    text = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 60)[:3500]
    return Article(uri="urn:bench", version=1, source=Source(provider="bench", format="json"),
                   headlines=[{"value": f"story {n}"}], bodies=[{"value": text}], language="en",
                   subjects=[Subject(code="medtop:04000000")]).wire()


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=2000, help="per round and case")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", default="1,10,10f",
                        help="subscriptions per case, f: with content filters")
    parser.add_argument("--words", type=int, default=350, help="words of each story's body")
    parser.add_argument("--plain", action="store_true", help="bench/webhooks.py's stories")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run the fan-out as it was at this git revision, in turn")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--subscriptions", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--filtered", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        side(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        paths: dict[str, str] = {"current": ""}
        if args.baseline:
            paths = {args.baseline[:10]: _checkout(args.baseline, Path(tmp)), **paths}
        print(f"FanOut alone, {args.stories} stories a round, best of {args.rounds}: CPU µs per "
              "delivery (/d) and per story (/s), page faults per delivery (pf/d)")
        print(f"{'case':>6} " + " ".join(f"{label:>31}" for label in paths)
              + ("   after/before" if len(paths) > 1 else ""))
        for case in args.cases.split(","):
            best: dict[str, dict[str, Any]] = {}
            for r in range(args.rounds):
                order = list(paths.items())
                for label, path in order[r % len(order):] + order[:r % len(order)]:
                    row = _run_side(args, case, path)
                    if label not in best or row["us_per_delivery"] < best[label]["us_per_delivery"]:
                        best[label] = row
            cells = [f"{b['us_per_delivery']:6.1f} /d {b['us_per_story']:6.1f} /s "
                     f"{b['faults_per_delivery']:4.1f} pf/d" for b in best.values()]
            ratio = ""
            if len(best) > 1:
                before, after = list(best.values())
                ratio = f"   {after['us_per_delivery'] / before['us_per_delivery']:.2f}"
            print(f"{case:>6} " + " ".join(f"{c:>31}" for c in cells) + ratio, flush=True)
        print(f"(data of a story: {next(iter(best.values()))['data_bytes']} bytes)")


def _run_side(args: argparse.Namespace, case: str, path: str) -> dict[str, Any]:
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = path
    else:
        env.pop("PYTHONPATH", None)
    command = [sys.executable, __file__, "--side", "--stories", str(args.stories),
               "--words", str(args.words), "--data", str(args.data), *["--plain"] * args.plain,
               "--redis-url", args.redis_url, "--subscriptions", case.rstrip("f")]
    if case.endswith("f"):
        command.append("--filtered")
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.splitlines()[-1]))


if __name__ == "__main__":
    main()
