"""Webhook delivery: deliveries/s to one local receiver, and publish-to-delivery latency.

The publish service runs as its own process (against the local Redis and an nx-27017 it starts);
one subscription points at a fast receiver (uvicorn, in this process, on loopback) that
verifies nothing and answers 204. Two runs and a reference:

- burst: N enriched stories pushed at once; deliveries/s from the first delivery to the last,
  and latency from each event's entry on news.published to its arrival at the receiver (this
  includes waiting in the queue behind the burst);
- paced: stories pushed at a steady rate well below capacity; latency as a subscriber sees it;
- reference: bare httpx POSTs to the same receiver at the same concurrency (the ceiling of the
  HTTP client on this machine; the receiver shares this process with it).

    uv run python bench/webhooks.py [--events 2000] [--paced 200 --rate 50] [--in-flight 16]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis
import uvicorn

from shared.article import Article, Source, Subject
from shared.events import ENRICHED_STREAM, PUBLISHED_STREAM, ArticleEnriched

from newsflow_cli.platform import Platform, free_port

ADMIN_KEY = secrets.token_urlsafe(16)


class Receiver:
    """A minimal ASGI receiver that notes when each story's delivery arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.port = free_port()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.arrived.setdefault(orjson.loads(body)["data"]["uri"], time.time())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def start(self) -> None:
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="error",
                                access_log=False, loop="uvloop", http="httptools")
        server = uvicorn.Server(config)
        threading.Thread(target=server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("receiver did not start")
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--paced", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0, help="paced events per second")
    parser.add_argument("--in-flight", type=int, default=16, help="per subscription")
    args = parser.parse_args()

    receiver = Receiver()
    receiver.start()
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    prefix = f"bench-{secrets.token_hex(4)}:"
    plat = Platform(workdir=workdir, stream_prefix=prefix, extra_env={
        "NEWSFLOW_ADMIN_KEY": ADMIN_KEY, "NEWSFLOW_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "NEWSFLOW_WEBHOOK_MAX_IN_FLIGHT": str(args.in_flight), "NEWSFLOW_LOG_LEVEL": "WARNING",
        "NEWSFLOW_BLOCK_MS": "100"})
    client = redis.Redis.from_url(plat.redis_url)
    try:
        plat.start_mongo()
        plat.start_service("publish")
        plat.wait_ready(timeout=60, names=("publish",))
        response = httpx.post(f"{plat.url('publish')}/v1/subscriptions", timeout=10,
                              headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                              json={"url": f"http://127.0.0.1:{receiver.port}/hook"})
        response.raise_for_status()
        print(f"publish as a process, one subscription, receiver on loopback, "
              f"{args.in_flight} in flight\n")

        events = [_event(f"urn:bench:burst:{n}") for n in range(args.events)]
        pipe = client.pipeline(transaction=False)
        for event in events:
            pipe.xadd(prefix + ENRICHED_STREAM, event.to_fields())
        pushed = time.time()
        pipe.execute()
        uris = [e.subject for e in events]
        _wait(receiver, uris, args.events * 0.1 + 60)
        _report("burst", client, prefix, receiver, uris, pushed)

        paced = [_event(f"urn:bench:paced:{n}") for n in range(args.paced)]
        pushed = time.time()
        for n, event in enumerate(paced):
            time.sleep(max(0.0, pushed + n / args.rate - time.time()))
            client.xadd(prefix + ENRICHED_STREAM, event.to_fields())
        uris = [e.subject for e in paced]
        _wait(receiver, uris, args.paced / args.rate + 60)
        _report("paced", client, prefix, receiver, uris, pushed)
        rate = asyncio.run(_raw_httpx(receiver.port, args.events, args.in_flight))
        print(f"\nreference: bare httpx POSTs of the same size to the same receiver, same "
              f"concurrency (no queue, no signing): {rate:,.0f} requests/s")
    finally:
        plat.stop()
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)


def _event(uri: str) -> ArticleEnriched:
    text = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 60)[:3500]
    article = Article(uri=uri, version=1, source=Source(provider="bench", format="json"),
                      headlines=[{"value": uri}], bodies=[{"value": text}], language="en",
                      subjects=[Subject(code="medtop:04000000")])
    return ArticleEnriched.for_article(article, "bench")  # type: ignore[return-value]


async def _raw_httpx(port: int, count: int, in_flight: int) -> float:
    body = _event("urn:bench:raw").to_fields()["data"]
    payload = b'{"type":"article.published","data":' + bytes(body) + b"}"
    limit = asyncio.Semaphore(in_flight)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=in_flight)) as http:
        async def one(n: int) -> None:
            async with limit:
                await http.post(f"http://127.0.0.1:{port}/raw", content=payload.replace(
                    b"urn:bench:raw", f"urn:bench:raw:{n}".encode()))
        started = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return count / (time.perf_counter() - started)


def _wait(receiver: Receiver, uris: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(u in receiver.arrived for u in uris):
            return
        time.sleep(0.05)
    missing = sum(u not in receiver.arrived for u in uris)
    raise SystemExit(f"{missing} of {len(uris)} deliveries missing after {timeout:.0f}s")


def _report(name: str, client: redis.Redis, prefix: str, receiver: Receiver,
            uris: list[str], pushed: float) -> None:
    announced = {fields[b"ce_subject"].decode(): int(entry_id.split(b"-")[0]) / 1000
                 for entry_id, fields in client.xrange(prefix + PUBLISHED_STREAM)}
    arrivals = [receiver.arrived[u] for u in uris]
    times = [announced[u] for u in uris]
    print(f"       announced on news.published over {max(times) - min(times):.2f}s")
    latencies = sorted(receiver.arrived[u] - announced[u] for u in uris)
    span = max(arrivals) - min(arrivals)
    rate = len(arrivals) / span if span > 0 else float("inf")
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(f"{name:5}: {len(arrivals)} deliveries, {rate:,.0f} deliveries/s "
          f"(first push to last delivery {max(arrivals) - pushed:.2f}s); publish-to-delivery "
          f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
