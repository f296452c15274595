"""Webhook delivery: deliver's deliveries/s against a plain aiohttp client, side by side.

deliver runs as its own process (against the local Redis and an nx-27017 it starts); stories are
announced straight onto news.published (deliver's input, so publish's own speed is not in the
figures) as publish announces them (source ``newsflow/publish``, whose data deliver decodes only
for content filters), and each subscription points at one fast receiver: a separate process
(uvicorn with httptools, on loopback) that verifies nothing, answers 204 and notes when each
``webhook-id`` arrived. For each case the same number of requests, with the same signed bodies,
is then sent by a plain aiohttp client (one session, N in flight) to the same receiver: the
ceiling of an HTTP client on this machine, measured in the same run just before and just after
each deliver run (the mean of the two is shown: the machine is shared and noisy).

Cases: one subscription at 1, 4 and 16 in flight (the 16 run is the burst: latency is counted
from the last story's announcement too); 10 subscriptions at 16 in flight each against the same
plain client at 16 in flight (the total deliveries/s); 12 subscriptions at 16 in flight (the
case that used to exhaust the Redis pool). Each case prints repeated ``webhook-id``s (a delivery
sent more than once; must be 0), the p99 of arrivals after the last story's announcement, and the
CPU time per delivery of deliver (its process, from /proc, fan-out included; and of the Redis
server, which the plain client does not use, from its INFO) and of the plain
client (the bench process while it sends; the receiver is in neither), and their ratio. Both
rates are over the requests only: deliver's from the first arrival to the last, the plain
client's after a warm-up of a few requests per connection. Each case runs ``--rounds`` times
(every round: plain client, each deliver, plain client) and the medians come last; a burst of
2,000 takes well under a second, so one round alone swings by ±15%.

``--baseline REV`` runs deliver as it was at a git revision too (its ``services/deliver/src`` and
``shared/src``, put first on the path), in the same rounds as the current one: a before/after
table in one run.

    nice -n 10 uv run --frozen python bench/webhooks.py [--events 2000] [--multi-events 1000]
        [--cases 1,4,16,10x16,12x16] [--rounds 3] [--baseline REV]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import redis
from platform_figures import cpu_s

from shared.article import Article, Source, Subject
from shared.events import PUBLISHED_STREAM, ArticlePublished, Event

from deliver.signing import new_secret, signature_headers
from newsflow_cli.platform import Platform, free_port

ADMIN_KEY = secrets.token_urlsafe(16)


# -- the receiver, a process of its own ---------------------------------------------------------

def serve(port: int) -> None:
    """``--serve PORT``: answer 204 to every POST, note (webhook-id, time); GET /report."""
    import uvicorn

    arrived: list[tuple[str, float]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        if scope["method"] == "GET":
            body = orjson.dumps(arrived)
            arrived.clear()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        headers = dict(scope["headers"])
        arrived.append((headers.get(b"webhook-id", b"").decode(), time.time()))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False,
                loop="uvloop", http="httptools")


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.popen = subprocess.Popen([sys.executable, __file__, "--serve", str(self.port)])
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit("receiver did not start") from None
                time.sleep(0.1)

    def report(self) -> list[tuple[str, float]]:
        """What arrived since the last report."""
        return [(i, t) for i, t in httpx.get(self.url, timeout=30).json()]

    def stop(self) -> None:
        self.popen.terminate()
        self.popen.wait(10)


# -- one case -----------------------------------------------------------------------------------

class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.receiver = Receiver()
        self.prefix = f"bench-{secrets.token_hex(4)}:"
        self.plat = Platform(workdir=Path(tempfile.mkdtemp(prefix="bench-webhooks-")),
                             stream_prefix=self.prefix, extra_env={
                                 "NEWSFLOW_ADMIN_KEY": ADMIN_KEY,
                                 "NEWSFLOW_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
                                 "NEWSFLOW_LOG_LEVEL": "WARNING", "NEWSFLOW_BLOCK_MS": "100"})
        self.redis = redis.Redis.from_url(self.plat.redis_url)
        self.serial = 0

    def start_deliver(self, in_flight: int, source: str | None) -> None:
        self.plat.extra_env["NEWSFLOW_WEBHOOK_MAX_IN_FLIGHT"] = str(in_flight)
        if source is None:
            self.plat.extra_env.pop("PYTHONPATH", None)
        else:
            self.plat.extra_env["PYTHONPATH"] = source
        self.plat.start_service("deliver")
        self.plat.wait_ready(timeout=60, names=("deliver",))

    def stop_deliver(self) -> None:
        process = self.plat.processes.pop("deliver", None)
        if process:
            process.stop()

    def subscribe(self, count: int) -> list[str]:
        ids = []
        with httpx.Client(base_url=self.plat.url("deliver"), timeout=10,
                          headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as api:
            for n in range(count):
                response = api.post("/v1/subscriptions",
                                    json={"url": f"{self.receiver.url}/hook/{n}"})
                response.raise_for_status()
                ids.append(response.json()["id"])
        return ids

    def unsubscribe(self, ids: list[str]) -> None:
        with httpx.Client(base_url=self.plat.url("deliver"), timeout=30,
                          headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as api:
            for sub in ids:
                api.delete(f"/v1/subscriptions/{sub}")

    def case(self, name: str, in_flight: int, subscriptions: int, events: int,
             sources: dict[str, str | None]) -> list[dict[str, Any]]:
        """One round: the plain client, each deliver (baseline first), the plain client again."""
        stories = [_event(f"urn:bench:{self.serial}:{n}") for n in range(events)]
        self.serial += 1
        bodies = [_body(e) for e in stories] * subscriptions
        plain = [self._plain(bodies, in_flight)]
        rows = [self.deliver(name, label, source, in_flight, subscriptions, events)
                for label, source in sources.items()]
        plain.append(self._plain(bodies, in_flight))
        rate = sum(r for r, _ in plain) / len(plain)
        cpu_ms = sum(c for _, c in plain) / len(plain)
        for row in rows:
            row.update(reference=rate, ratio=row["rate"] / rate, plain_cpu_ms=cpu_ms,
                       cpu_ratio=row["cpu_ms"] / cpu_ms)
        return rows

    def _plain(self, bodies: list[bytes], in_flight: int) -> tuple[float, float]:
        """(requests/s, CPU ms per request) of the plain client."""
        result = asyncio.run(_plain_aiohttp(self.receiver.url, bodies, in_flight))
        self.receiver.report()
        return result

    def deliver(self, name: str, label: str, source: str | None, in_flight: int,
                subscriptions: int, events: int) -> dict[str, Any]:
        stories = [_event(f"urn:bench:{self.serial}:{n}") for n in range(events)]
        self.serial += 1
        self.start_deliver(in_flight, source)
        try:
            ids = self.subscribe(subscriptions)
            time.sleep(0.2)  # the entries below are announced after the subscriptions' creation
            self.receiver.report()  # forget anything earlier
            pid = self.plat.processes["deliver"].popen.pid
            cpu_before, redis_before = cpu_s(pid), self._redis_cpu_s()
            pipe = self.redis.pipeline(transaction=False)
            for event in stories:
                pipe.xadd(self.prefix + PUBLISHED_STREAM, event.to_fields())
            entry_ids = pipe.execute()
            announced = {e.id: int(i.split(b"-")[0]) / 1000
                         for e, i in zip(stories, entry_ids, strict=True)}
            expected = events * subscriptions
            arrivals = self._wait(expected, timeout=expected / 20 + 60)
            cpu = cpu_s(pid) - cpu_before
            redis_cpu = self._redis_cpu_s() - redis_before
            self.unsubscribe(ids)
        finally:
            self.stop_deliver()
        times = [t for _, t in arrivals]
        counts = collections.Counter(i for i, _ in arrivals)
        latencies = sorted(t - announced[i.rsplit("_", 1)[1]] for i, t in arrivals)
        last_announced = max(announced.values())
        span = max(times) - min(times)
        return {
            "case": name, "deliver": label, "deliveries": len(counts),
            "rate": len(arrivals) / span if span > 0 else float("inf"),
            "p99_announce_ms": _p99(latencies) * 1000,
            "p99_after_last_ms": max(0.0, _p99(sorted(times)) - last_announced) * 1000,
            "repeated": sum(1 for c in counts.values() if c > 1),
            "cpu_ms": cpu * 1000 / max(1, len(arrivals)),
            "redis_cpu_ms": redis_cpu * 1000 / max(1, len(arrivals)),
        }

    def _redis_cpu_s(self) -> float:
        """CPU seconds the Redis server has used (user + system), as it reports them."""
        info: Any = self.redis.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def _wait(self, expected: int, timeout: float) -> list[tuple[str, float]]:
        arrivals: list[tuple[str, float]] = []
        deadline = time.monotonic() + timeout
        while len({i for i, _ in arrivals}) < expected:
            if time.monotonic() > deadline:
                raise SystemExit(f"{expected - len(arrivals)} of {expected} deliveries missing "
                                 f"after {timeout:.0f}s; logs in {self.plat.workdir}")
            time.sleep(0.2)
            arrivals += self.receiver.report()
        time.sleep(0.5)  # a delivery sent twice shows up here
        return arrivals + self.receiver.report()

    def close(self) -> None:
        self.plat.stop()
        self.receiver.stop()
        keys = list(self.redis.scan_iter(match=f"{self.prefix}*"))
        if keys:
            self.redis.delete(*keys)


def _event(uri: str) -> Event:
    text = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 60)[:3500]
    article = Article(uri=uri, version=1, source=Source(provider="bench", format="json"),
                      headlines=[{"value": uri}], bodies=[{"value": text}], language="en",
                      subjects=[Subject(code="medtop:04000000")])
    return ArticlePublished.for_article(article, "newsflow/publish")


def _body(event: Event) -> bytes:
    """The body deliver sends for this event (same shape and size)."""
    return orjson.dumps({"type": "article.published", "timestamp": event.time.isoformat(),
                         "data": event.data})


async def _plain_aiohttp(url: str, bodies: list[bytes], in_flight: int) -> tuple[float, float]:
    """(requests/s, CPU ms per request) of one aiohttp session, ``in_flight`` at a time, same
    bodies, signed; timed after a warm-up that opens the connections."""
    secret = new_secret()
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        for n, body in enumerate(bodies[:in_flight * 4]):
            queue.put_nowait((-n - 1, body))

        async def worker() -> None:
            while not queue.empty():
                n, body = queue.get_nowait()
                headers = {"content-type": "application/json",
                           **signature_headers(f"ref_{n}", int(time.time()), body.decode(),
                                               [secret])}
                async with session.post(f"{url}/raw", data=body, headers=headers) as response:
                    await response.read()

        await asyncio.gather(*(worker() for _ in range(in_flight)))  # the warm-up
        for n, body in enumerate(bodies):
            queue.put_nowait((n, body))
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        cpu = time.process_time() - cpu
        return len(bodies) / (time.perf_counter() - started), cpu * 1000 / len(bodies)


def _p99(values: list[float]) -> float:
    return values[max(0, int(len(values) * 0.99) - 1)]


def _cases(args: argparse.Namespace) -> list[tuple[str, int, int, int]]:
    cases = []
    for spec in args.cases.split(","):
        subs, _, limit = spec.rpartition("x")
        count, in_flight = int(subs or 1), int(limit)
        name = (f"{count} subscription{'s' if count > 1 else ''}, {in_flight} in flight"
                + (" (burst)" if count == 1 and in_flight == 16 else ""))
        cases.append((name, in_flight, count, args.events if count == 1 else args.multi_events))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="stories, one subscription")
    parser.add_argument("--multi-events", type=int, default=1000,
                        help="stories, several subscriptions")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="one JSON line per case too")
    parser.add_argument("--cases", default="1,4,16,10x16,12x16",
                        help="in flight, or subscriptions x in flight, comma-separated")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of each case; their medians are printed last")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run deliver as it was at this git revision, side by side")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    bench = Bench(args)
    sources: dict[str, str | None] = {"current": None}
    if args.baseline:
        sources = {args.baseline[:10]: _checkout(args.baseline, bench.plat.workdir), **sources}
    try:
        bench.plat.workdir.mkdir(parents=True, exist_ok=True)
        bench.plat.start_mongo()
        print("deliver as a process; stories announced on news.published; receiver: its own "
              "process on loopback; CPU: µs per delivery (deliver) or per request (aiohttp)\n")
        print(f"{'case':46} {'deliver':>10} {'deliver/s':>10} {'aiohttp/s':>10} {'ratio':>6} "
              f"{'p99 announce':>13} {'p99 after last':>15} {'repeated':>9} "
              f"{'CPU deliver':>12} {'CPU aiohttp':>12} {'CPU ratio':>10} {'CPU Redis':>10}")
        for name, in_flight, subs, events in _cases(args):
            rounds: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
            for number in range(1, args.rounds + 1):
                for row in bench.case(name, in_flight, subs, events, sources):
                    rounds[row["deliver"]].append(row)
                    if args.rounds > 1:
                        _print_row(f"{name}, round {number}", row)
                    if args.json:
                        print(json.dumps(row))
            for rows in rounds.values():
                _print_row(name + (" (median)" if args.rounds > 1 else ""), _median(rows))
    finally:
        bench.close()


def _print_row(name: str, row: dict[str, Any]) -> None:
    print(f"{name:46} {row['deliver']:>10} {row['rate']:>10,.0f} "
          f"{row['reference']:>10,.0f} {row['ratio']:>6.2f} "
          f"{row['p99_announce_ms']:>10,.0f} ms {row['p99_after_last_ms']:>12,.0f} ms "
          f"{row['repeated']:>9} {row['cpu_ms'] * 1000:>12,.0f} "
          f"{row['plain_cpu_ms'] * 1000:>12,.0f} {row['cpu_ratio']:>10.2f} "
          f"{row['redis_cpu_ms'] * 1000:>10,.0f}", flush=True)


def _median(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds; repeated deliveries are added up (any is a fault)."""
    out = dict(rows[0])
    for key, value in rows[0].items():
        if key == "repeated":
            out[key] = sum(r[key] for r in rows)
        elif isinstance(value, int | float):
            out[key] = statistics.median(r[key] for r in rows)
    return out


def _checkout(revision: str, workdir: Path) -> str:
    """deliver's and shared's sources at a git revision, extracted under the bench's work
    directory, as a PYTHONPATH: the shared code deliver ran with then is part of its figures."""
    target = workdir / "baseline"
    target.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(root), "archive", revision, "services/deliver/src",
                              "shared/src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return os.pathsep.join(str(target / part / "src") for part in ("services/deliver", "shared"))


if __name__ == "__main__":
    main()
