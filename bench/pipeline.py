"""The whole pipeline against bare NER, one run: throughput, CPU per story, latency, scaling.

Starts nx-27017, ingest, enrich and publish as processes (as ``newsflow run`` does) on private
stream names, and pushes stories of about 600 words built from the development data over HTTP.
Printed side by side, in interleaved rounds (the machine's load drifts):

- full pipeline stories/s (202 to ``news.published``) with one enrich replica and with two
  (one NLP worker each), against bare ``nlp.pipe`` (the service's own model and components) in
  one and in two processes; the ratios two/one of both;
- CPU microseconds per story of each process (enrich with its workers), from /proc;
- accept-to-published latency, p50/p99: one story at a time at idle, against the bare model
  handling one story at a time; and at half the measured maximum rate;
- how many stories were enriched twice (events repeated on ``news.enriched``).

    nice -n 10 uv run python bench/pipeline.py \
        [--data ../shared/data/summaries/news_summaries_dev.jsonl] [--n 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import cast

import httpx
import orjson
import redis

from shared.events import ENRICHED_STREAM, PUBLISHED_STREAM

from enrich.spacy_model import load_english
from newsflow_cli.platform import Platform, Process

sys.path.insert(0, str(Path(__file__).parent))
from enrich_service import DEFAULT_DATA, articles, bare
from platform_figures import descendants

TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")


class Arrivals:
    """Watches news.published and notes when each story's announcement arrived."""

    def __init__(self, client: redis.Redis, stream: str) -> None:
        self.client, self.stream = client, stream
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = "$"
        while not self._stop:
            reply = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
                         self.client.xread({self.stream: last}, block=200) or [])
            now = time.perf_counter()
            for _, entries in reply:
                with self.cond:
                    for entry_id, fields in entries:
                        last = _text(entry_id)
                        self.seen.setdefault(_text(fields[b"ce_subject"]), now)
                    self.cond.notify_all()

    def wait(self, uris: list[str], timeout: float = 600) -> float:
        """When the last of them arrived."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while any(u not in self.seen for u in uris):
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = sum(u not in self.seen for u in uris)
                    raise SystemExit(f"{missing} stories not published within {timeout}s")
                self.cond.wait(left)
            return max(self.seen[u] for u in uris)

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)


class Pusher:
    def __init__(self, plat: Platform, pairs: list[tuple[str, str]]) -> None:
        self.plat, self.pairs, self.next = plat, pairs, 0
        self.http = httpx.Client(timeout=60, headers={
            "Authorization": f"Bearer {plat.ingest_key}", "Content-Type": "application/json"})
        self.lock = threading.Lock()

    def stories(self, n: int) -> list[dict[str, object]]:
        with self.lock:
            out = []
            for _ in range(n):
                headline, body = self.pairs[self.next % len(self.pairs)]
                self.next += 1
                out.append({"uri": f"urn:bench:{secrets.token_hex(8)}", "version": 1,
                            "headline": headline, "body": body})
            return out

    def push(self, batch: list[dict[str, object]]) -> float:
        """POST, and the time of the 202."""
        response = self.http.post(f"{self.plat.url('ingest')}/v1/articles",
                                  content=orjson.dumps(batch))
        if response.status_code != 202:
            raise SystemExit(f"ingest answered {response.status_code}: {response.text[:200]}")
        return time.perf_counter()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def cpu_us(pid: int) -> float:
    """CPU time (user + system) of a process and its children still alive, in microseconds."""
    total = 0.0
    for current in descendants(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) * TICK_US
    return total


def throughput(plat: Platform, pusher: Pusher, arrivals: Arrivals, n: int,
               clients: int = 4, per_request: int = 10) -> tuple[float, dict[str, float]]:
    """Stories/s pushed by several clients as fast as ingest takes them, and CPU-us per story
    of each process over the round."""
    batches = [pusher.stories(per_request) for _ in range(n // per_request)]
    uris = [str(s["uri"]) for batch in batches for s in batch]
    before = {name: cpu_us(p.popen.pid) for name, p in plat.processes.items()}
    queue = list(batches)
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                if not queue:
                    return
                batch = queue.pop()
            pusher.push(batch)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    finished = arrivals.wait(uris)
    cpu = {name: (cpu_us(p.popen.pid) - before[name]) / len(uris)
           for name, p in plat.processes.items() if name in before}
    return len(uris) / (finished - started), cpu


def latencies(pusher: Pusher, arrivals: Arrivals, n: int, rate: float | None) -> list[float]:
    """Accept-to-published seconds: one story at a time (rate None: each after the last is
    published), or stories sent at a steady rate."""
    out: list[float] = []
    pending: list[tuple[str, float]] = []
    next_at = time.perf_counter()
    for _ in range(n):
        [story] = pusher.stories(1)
        if rate:
            time.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += 1 / rate
        accepted = pusher.push([story])
        if rate:
            pending.append((str(story["uri"]), accepted))
        else:
            out.append(arrivals.wait([str(story["uri"])]) - accepted)
    for uri, accepted in pending:
        out.append(arrivals.wait([uri]) - accepted)
    return out


def bare_one_at_a_time(texts: list[str]) -> list[float]:
    nlp = load_english()
    nlp(texts[0])
    out = []
    for text in texts:
        started = time.perf_counter()
        nlp(text)
        out.append(time.perf_counter() - started)
    return out


def _count_ids(client: redis.Redis, stream: str, group: str) -> Counter[str]:
    ids: Counter[str] = Counter()
    while reply := cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
                        client.xreadgroup(group, "bench", {stream: ">"}, count=1000)):
        entries = reply[0][1]
        ids.update(_text(fields[b"ce_id"]) for _, fields in entries)
        client.xack(stream, group, *[entry_id for entry_id, _ in entries])
    return ids


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def set_replicas(plat: Platform, count: int) -> None:
    extra = plat.processes.pop("enrich#2", None)
    if count == 2 and extra is None:
        first = plat.processes["enrich"]
        extra = plat.start_service("enrich")
        plat.processes["enrich"], plat.processes["enrich#2"] = first, extra
        plat.wait_ready(timeout=300, names=("enrich#2",))
    elif count == 2 and extra is not None:
        plat.processes["enrich#2"] = extra
    elif extra is not None:
        extra.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=200, help="stories per throughput round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--latency-n", type=int, default=40)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--reclaim-idle-ms", type=int, default=None,
                        help="NEWSFLOW_RECLAIM_IDLE_MS for the services (default: theirs);"
                             " below a batch's duration, to see whether slow batches are taken"
                             " over and done twice")
    args = parser.parse_args()

    pairs = articles(args.data, args.n)
    texts = [f"{h}\n\n{b}" for h, b in pairs]
    words = sum(len(t.split()) for t in texts) / len(texts)
    prefix = f"bench-{secrets.token_hex(3)}:"
    client = redis.Redis.from_url(args.redis_url)
    rates: dict[int, list[float]] = {1: [], 2: []}
    bare_rates: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as workdir:
        plat = Platform(workdir=Path(workdir), redis_url=args.redis_url, stream_prefix=prefix,
                        mongodb_db=f"bench_{secrets.token_hex(3)}",
                        extra_env={"NEWSFLOW_WORKERS": "1", "NEWSFLOW_LOG_LEVEL": "WARNING"})
        if args.reclaim_idle_ms:
            plat.extra_env["NEWSFLOW_RECLAIM_IDLE_MS"] = str(args.reclaim_idle_ms)
        arrivals = Arrivals(client, prefix + PUBLISHED_STREAM)
        try:
            plat.start(timeout=300)
            # A group of the bench's own holds news.enriched back from the trimmer, so every
            # enriched event can be counted at the end: a story enriched twice shows up there.
            enriched = prefix + ENRICHED_STREAM
            client.xgroup_create(enriched, "bench-audit", id="$", mkstream=True)
            pusher = Pusher(plat, pairs)
            latencies(pusher, arrivals, 5, None)  # warm up
            for _ in range(args.rounds):
                for replicas in (1, 2):
                    bare_rates[replicas].append(len(texts) / bare(texts, replicas))
                    set_replicas(plat, replicas)
                    rate, per_story = throughput(plat, pusher, arrivals, args.n)
                    rates[replicas].append(rate)
                    cpu[replicas].append(per_story)
            idle = latencies(pusher, arrivals, args.latency_n, None)
            single = bare_one_at_a_time(texts[:args.latency_n])
            half = statistics.median(rates[2]) / 2
            loaded = latencies(pusher, arrivals, args.latency_n * 3, half)
            enriched_ids = _count_ids(client, enriched, "bench-audit")
        finally:
            arrivals.close()
            processes: list[Process] = list(plat.processes.values())
            for process in processes:
                process.stop()
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    bare_one, bare_two = statistics.median(bare_rates[1]), statistics.median(bare_rates[2])
    print(f"{args.n} stories of ~{words:.0f} words per round, {args.rounds} interleaved rounds,"
          f" {os.cpu_count()} cores")
    print(f"  full pipeline, 1 enrich replica : {one:6.1f} stories/s  rounds {rates[1]}")
    print(f"  full pipeline, 2 enrich replicas: {two:6.1f} stories/s  rounds {rates[2]}")
    print(f"  bare nlp.pipe, 1 process        : {bare_one:6.1f} stories/s")
    print(f"  bare nlp.pipe, 2 processes      : {bare_two:6.1f} stories/s")
    print(f"  scaling 2/1: pipeline {two / one:.2f}, bare {bare_two / bare_one:.2f}"
          f"  (goal: pipeline >= 1.7)")
    print(f"  pipeline (2 replicas) / bare (2 processes): {two / bare_two:.2f}")
    for replicas in (1, 2):
        names = sorted(cpu[replicas][0])
        merged = {n: statistics.median(c[n] for c in cpu[replicas]) for n in names}
        print(f"  CPU-us per story, {replicas} replica(s): "
              + ", ".join(f"{n} {v:,.0f}" for n, v in merged.items()))
    p50_single = statistics.median(single)
    repeats = sum(n - 1 for n in enriched_ids.values())
    print(f"  news.enriched: {sum(enriched_ids.values())} events, {repeats} of them repeats"
          f" (a story enriched twice)")
    print(f"  bare model one story at a time: p50 {p50_single * 1000:.0f} ms")
    print(f"  idle, accept->published: p50 {pct(idle, .5) * 1000:.0f} ms, p99 "
          f"{pct(idle, .99) * 1000:.0f} ms; p50 / bare p50 {pct(idle, .5) / p50_single:.2f}"
          f" (goal <= 1.3)")
    print(f"  at {half:.1f} stories/s (half the 2-replica maximum), accept->published: p50 "
          f"{pct(loaded, .5) * 1000:.0f} ms, p99 {pct(loaded, .99) * 1000:.0f} ms"
          f" (goal p99 <= 250 ms)")


if __name__ == "__main__":
    main()
