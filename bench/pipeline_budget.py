"""The plumbing's CPU budget: the pipeline against its references, side by side, rounds interleaved.

Starts the platform as ``newsflow run`` does (nx-27017, ingest, enrich, publish as processes, on
private stream names) and, in each round:

- bare ``nlp.pipe``: the same model and components as enrich (``load_english()``), in as many
  processes as enrich has workers, over the same stories;
- the pipeline fed by XADD into ``news.ingested``, timed until every story is on
  ``news.published``;
- the pipeline fed through ``POST /v1/articles`` (native JSON, a few requests in flight);
- ingest alone (its own stream names, nothing consuming) against a bare FastAPI app doing one
  XADD per request, both loaded with small JSON stories by ``wrk`` (16 connections) or, without
  wrk, by an in-process async load generator. Install wrk (Debian: ``apt-get install wrk``) for
  the ingest figures: the fallback generator saturates near 50 requests/s, below either app.

CPU per story comes from /proc/<pid>/stat (utime + stime) of every process: ingest, enrich's main
process, its NLP worker children, publish and nx-27017. "Plumbing" is ingest + enrich main +
publish: everything but the model and the database server. After the rounds, stories are sent
one at a time at half the measured maximum rate for the accept (202) to published latency.
Stories are ~600 words built from the development data (the summaries' articles and CoNLL
documents).

    uv run --frozen nice -n 10 python bench/pipeline_budget.py [--rounds 3] [--quick] [--data DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import redis

from shared.article import Article, Source
from shared.events import INGESTED_STREAM, PUBLISHED_STREAM, ArticleIngested

from newsflow_cli.platform import Platform, free_port

ROOT = Path(__file__).resolve().parents[1]
# the development data: the nearest shared/data above the repository (../shared/data here)
DATA = next((d / "shared" / "data" for d in ROOT.parents if (d / "shared" / "data").is_dir()),
            ROOT.parent / "shared" / "data")
WORDS = 600
TICK_S = 1 / os.sysconf("SC_CLK_TCK")
POST_IN_FLIGHT = 4
SMALL_BODY = ("Ministers met on Tuesday to discuss the harbour project, which has been delayed "
              "by two years. The council said a decision would follow within a month.")

_nlp = None


# -- stories -------------------------------------------------------------------------------------

def load_texts(data: Path) -> list[str]:
    """Article texts from the summaries set and CoNLL documents (tokenised text re-joined)."""
    texts = []
    summaries = data / "summaries" / "news_summaries_dev.jsonl"
    if summaries.exists():
        texts += [json.loads(line)["article"] for line in summaries.read_text().splitlines()
                  if line.strip()]
    conll = data / "ner" / "conll2003_dev.jsonl"
    if conll.exists():
        for line in conll.read_text().splitlines():
            if line.strip():
                text = json.loads(line)["text"]
                texts.append(re.sub(r" ([,.;:!?'])", r"\1", text))
    if not texts:
        raise SystemExit(f"no stories found under {data} (pass --data)")
    return texts


def stories(texts: list[str], n: int, start: int) -> list[tuple[str, str]]:
    """(headline, body) pairs of about WORDS words, cycling through the texts."""
    out = []
    for i in range(start, start + n):
        words: list[str] = []
        k = 0
        while len(words) < WORDS:
            words += texts[(i * 7 + k) % len(texts)].split()
            k += 1
        body = words[:WORDS]
        paragraphs = [" ".join(body[j:j + 80]) for j in range(0, WORDS, 80)]
        out.append((" ".join(body[:10]), "\n\n".join(paragraphs)))
    return out


# -- CPU accounting ------------------------------------------------------------------------------

def cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


@dataclass
class Meter:
    """CPU seconds of named groups of processes between two readings."""

    groups: dict[str, Callable[[], list[int]]]
    start: dict[str, float] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        return {name: sum(cpu_s(p) for p in pids()) for name, pids in self.groups.items()}

    def begin(self) -> None:
        self.start = self.read()

    def spent(self) -> dict[str, float]:
        now = self.read()
        return {name: now[name] - self.start[name] for name in now}


# -- news.published watcher ----------------------------------------------------------------------

class Published:
    """Follows news.published in a thread and notes when each story uri appeared."""

    def __init__(self, redis_url: str, stream: str) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.stream = stream
        self.seen: dict[str, float] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        last = "$"
        while not self.stopped.is_set():
            reply = self.client.xread({self.stream: last}, block=200) or []
            now = time.perf_counter()
            for _, entries in reply:  # type: ignore[union-attr]
                for entry_id, fields in entries:
                    last = entry_id
                    self.seen.setdefault(fields[b"ce_subject"].decode(), now)

    def wait(self, uris: list[str], timeout: float = 900) -> float:
        """When the last of these uris was published."""
        deadline = time.monotonic() + timeout
        while True:
            missing = [u for u in uris if u not in self.seen]
            if not missing:
                return max(self.seen[u] for u in uris)
            if time.monotonic() > deadline:
                raise SystemExit(f"{len(missing)} of {len(uris)} stories not published within "
                                 f"{timeout:.0f}s")
            time.sleep(0.02)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(2)


# -- the sides -----------------------------------------------------------------------------------

def _init_bare() -> None:
    global _nlp
    from enrich.spacy_model import load_english
    _nlp = load_english()


def _bare_chunk(texts: list[str]) -> int:
    from enrich.spacy_model import BATCH_SIZE
    assert _nlp is not None
    return sum(len(doc.ents) for doc in _nlp.pipe(texts, batch_size=BATCH_SIZE))


def bare_round(pool: ProcessPoolExecutor, meter: Meter, texts: list[str],
               processes: int) -> tuple[float, float]:
    """(stories/s, CPU s per story) for bare nlp.pipe over these texts."""
    parts = processes * 4  # chunked like enrich's pool
    chunks = [texts[i::parts] for i in range(parts)]
    meter.begin()
    started = time.perf_counter()
    list(pool.map(_bare_chunk, chunks))
    elapsed = time.perf_counter() - started
    return len(texts) / elapsed, meter.spent()["workers"] / len(texts)


def xadd_round(client: redis.Redis, stream: str, published: Published,
               pairs: list[tuple[str, str]], tag: str) -> tuple[float, list[str]]:
    events = []
    for i, (headline, body) in enumerate(pairs):
        article = Article(uri=f"urn:bench:{tag}:{i}", version=1,
                          source=Source(provider="bench", format="json"),
                          headlines=[{"value": headline}],  # type: ignore[list-item]
                          bodies=[{"value": body}])  # type: ignore[list-item]
        events.append(ArticleIngested.for_article(article, "bench"))
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.xadd(stream, event.to_fields())
    pipe.execute()
    uris = [e.subject for e in events]
    return published.wait(uris) - started, uris


def native(uri: str, headline: str, body: str) -> bytes:
    return orjson.dumps({"uri": uri, "version": 1, "headline": headline, "body": body})


async def _post_all(url: str, key: str, bodies: list[bytes], in_flight: int,
                    interval_s: float = 0.0) -> list[float]:
    """POST each body; returns when each was accepted (perf_counter)."""
    accepted = [0.0] * len(bodies)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    limit = asyncio.Semaphore(in_flight)
    async with httpx.AsyncClient(timeout=60) as http:
        async def one(index: int, body: bytes) -> None:
            async with limit:
                response = await http.post(url, content=body, headers=headers)
            if response.status_code != 202:
                raise SystemExit(f"ingest answered {response.status_code}: {response.text}")
            accepted[index] = time.perf_counter()

        if interval_s:
            tasks = []
            first = time.perf_counter()
            for index, body in enumerate(bodies):
                await asyncio.sleep(max(0.0, first + index * interval_s - time.perf_counter()))
                tasks.append(asyncio.create_task(one(index, body)))
            await asyncio.gather(*tasks)
        else:
            await asyncio.gather(*(one(i, b) for i, b in enumerate(bodies)))
    return accepted


def post_round(platform: Platform, published: Published, pairs: list[tuple[str, str]],
               tag: str) -> tuple[float, list[str]]:
    uris = [f"urn:bench:{tag}:{i}" for i in range(len(pairs))]
    bodies = [native(u, h, b) for u, (h, b) in zip(uris, pairs, strict=True)]
    started = time.perf_counter()
    asyncio.run(_post_all(f"{platform.url('ingest')}/v1/articles", platform.ingest_key, bodies,
                          POST_IN_FLIGHT))
    return published.wait(uris) - started, uris


def latency(platform: Platform, published: Published, pairs: list[tuple[str, str]], tag: str,
            rate: float) -> list[float]:
    """Accept (202) to published, in ms, sending one story every 1/rate seconds."""
    uris = [f"urn:bench:{tag}:{i}" for i in range(len(pairs))]
    bodies = [native(u, h, b) for u, (h, b) in zip(uris, pairs, strict=True)]
    accepted = asyncio.run(_post_all(f"{platform.url('ingest')}/v1/articles",
                                     platform.ingest_key, bodies, len(bodies), 1 / rate))
    published.wait(uris)
    return sorted((published.seen[u] - a) * 1000 for u, a in zip(uris, accepted, strict=True))


# -- ingest alone vs a bare FastAPI + XADD app ---------------------------------------------------

BARE_APP = '''
import sys, uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

redis = Redis.from_url(sys.argv[3])
stream = sys.argv[2]
app = FastAPI()

@app.post("/v1/articles", status_code=202)
async def post(request: Request) -> JSONResponse:
    entry = await redis.xadd(stream, {"data": await request.body()})
    return JSONResponse({"results": [{"status": "accepted", "entry": entry.decode()}]},
                        status_code=202)

@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ready"}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
            log_level="warning")
'''

WRK_SCRIPT = '''
local counter = 0
local tag = "%(tag)s"
function setup(thread) thread:set("tid", tostring(math.random(1, 1000000000))) end
function init(args) tag = tag .. ":" .. tid end
request = function()
  counter = counter + 1
  local body = '{"uri":"urn:bench:' .. tag .. ':' .. counter .. '","version":1,' ..
    '"headline":"Harbour project delayed","body":"%(body)s"}'
  return wrk.format("POST", "/v1/articles", {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer %(key)s"}, body)
end
'''


@contextlib.contextmanager
def bare_app(workdir: Path, redis_url: str, stream: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    script = workdir / "bare_app.py"
    script.write_text(BARE_APP)
    with open(workdir / "bare_app.log", "wb") as log:
        popen = subprocess.Popen([sys.executable, str(script), str(port), stream, redis_url],
                                 stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if popen.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the bare app did not start; see {workdir / 'bare_app.log'}")
            time.sleep(0.2)
        yield url, popen.pid
    finally:
        popen.terminate()
        popen.wait(10)


def load(url: str, key: str, tag: str, seconds: float, connections: int,
         workdir: Path) -> tuple[float, int]:
    """(requests/s, requests) of small JSON stories, each under a new uri."""
    if shutil.which("wrk"):
        script = workdir / f"{tag.replace(':', '_')}.lua"
        script.write_text(WRK_SCRIPT % {"tag": tag, "body": SMALL_BODY, "key": key})
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds:.0f}s", "-s",
                              str(script), url], capture_output=True, text=True, check=True).stdout
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if errors:
            raise SystemExit(f"{errors.group(1)} requests failed under load:\n{out}")
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), requests  # type: ignore[union-attr]
    return asyncio.run(_load_async(url, key, tag, seconds, connections))


async def _load_async(url: str, key: str, tag: str, seconds: float,
                      connections: int) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    done = 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(
            max_connections=connections)) as http:
        async def worker(w: int) -> None:
            nonlocal done
            while time.perf_counter() < stop:
                body = native(f"urn:bench:{tag}:{w}:{done}", "Harbour project", SMALL_BODY)
                response = await http.post(f"{url}/v1/articles", content=body, headers=headers)
                if response.status_code != 202:
                    raise SystemExit(f"{response.status_code}: {response.text}")
                done += 1
        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(connections)))
    return done / (time.perf_counter() - started), done


# -- the run -------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer stories, shorter loads")
    parser.add_argument("--stories", type=int, default=0, help="stories per round and path")
    parser.add_argument("--workers", type=int, default=2, help="NEWSFLOW_WORKERS")
    parser.add_argument("--seconds", type=float, default=0, help="ingest load per round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    n = args.stories or (40 if args.quick else 120)
    seconds = args.seconds or (4 if args.quick else 8)
    texts = load_texts(args.data)
    run = secrets.token_hex(3)
    prefix = f"bench-{run}:"
    client = redis.Redis.from_url(args.redis_url)
    rows: dict[str, list[float]] = {}
    cpu: dict[str, list[dict[str, float]]] = {}

    def note(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory() as tmp, \
            ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"),
                                initializer=_init_bare) as pool:
        workdir = Path(tmp)
        platform = Platform(workdir=workdir / "platform", redis_url=args.redis_url,
                            stream_prefix=prefix,
                            extra_env={"NEWSFLOW_WORKERS": str(args.workers)})
        solo = Platform(workdir=workdir / "solo", redis_url=args.redis_url,
                        stream_prefix=f"bench-{run}-solo:", ingest_key=platform.ingest_key)
        published = Published(args.redis_url, prefix + PUBLISHED_STREAM)
        try:
            platform.start(timeout=240)
            solo.workdir.mkdir(parents=True)
            solo.start_service("ingest")
            solo.wait_ready(names=("ingest",))
            pids = {name: p.popen.pid for name, p in platform.processes.items()}
            enrich_pid = pids["enrich"]
            meter = Meter({
                "ingest": lambda: [pids["ingest"]],
                "enrich main": lambda: [enrich_pid],
                "NLP workers": lambda: children(enrich_pid),
                "publish": lambda: [pids["publish"]],
                "nx-27017": lambda: [pids["mongo"]],
                **({"deliver": lambda: [pids["deliver"]]} if "deliver" in pids else {}),
            })
            bare_meter = Meter({"workers": lambda: list(pool._processes or {})})
            warm = stories(texts, args.workers * 4, 0)
            list(pool.map(_bare_chunk, [[f"{h}\n\n{b}" for h, b in warm]] * args.workers))
            xadd_round(client, prefix + INGESTED_STREAM, published, warm, f"{run}:warm")
            bare_stream = f"bench-{run}-bare:{INGESTED_STREAM}"
            with bare_app(workdir, args.redis_url, bare_stream) as (
                    bare_url, bare_pid):
                for r in range(args.rounds):
                    pairs = stories(texts, n, 1000 + r * n)
                    rate, per_story = bare_round(pool, bare_meter,
                                                 [f"{h}\n\n{b}" for h, b in pairs], args.workers)
                    note("bare", rate)
                    note("bare cpu", per_story)
                    for path in ("xadd", "post"):
                        meter.begin()
                        if path == "xadd":
                            elapsed, _ = xadd_round(client, prefix + INGESTED_STREAM, published,
                                                    pairs, f"{run}:{r}:x")
                        else:
                            elapsed, _ = post_round(platform, published, pairs, f"{run}:{r}:p")
                        note(path, n / elapsed)
                        cpu.setdefault(path, []).append(
                            {k: v / n for k, v in meter.spent().items()})
                    for side, url, pid, stream in (
                            ("ingest", solo.url("ingest"), solo.processes["ingest"].popen.pid,
                             solo.stream_prefix + INGESTED_STREAM),
                            ("bare app", bare_url, bare_pid, bare_stream)):
                        before, queued = cpu_s(pid), client.xlen(stream)
                        rps, requests = load(url, platform.ingest_key, f"{run}:{r}:{side[0]}",
                                             seconds, args.connections, workdir)
                        if client.xlen(stream) - queued < requests:  # wrk may count a few more
                            print(f"  {side}: {requests} requests, "
                                  f"{client.xlen(stream) - queued} stories queued")
                        note(side, rps)
                        note(side + " cpu", (cpu_s(pid) - before) / requests)
                    print(f"round {r + 1}: bare {rows['bare'][-1]:.1f}, xadd "
                          f"{rows['xadd'][-1]:.1f}, post {rows['post'][-1]:.1f} stories/s; "
                          f"ingest {rows['ingest'][-1]:.0f}, bare app "
                          f"{rows['bare app'][-1]:.0f} req/s", flush=True)
            half = statistics.median(rows["xadd"]) / 2
            lat = latency(platform, published, stories(texts, n // 2, 100000), f"{run}:lat",
                          half)
        finally:
            published.stop()
            solo.stop()
            platform.stop()
            keys = list(client.scan_iter(match=f"bench-{run}*"))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start:start + 500])
    report(args, n, seconds, rows, cpu, lat, half)


def report(args: argparse.Namespace, n: int, seconds: float, rows: dict[str, list[float]],
           cpu: dict[str, list[dict[str, float]]], lat: list[float], rate: float) -> None:
    def cells(values: list[float], fmt: str = "{:.1f}") -> str:
        return " / ".join(fmt.format(v) for v in values)

    med = {k: statistics.median(v) for k, v in rows.items()}

    def ratio(name: str, reference: str) -> float:
        """Median of the per-round ratios: each round's two sides ran back to back."""
        return statistics.median(a / b for a, b in zip(rows[name], rows[reference], strict=True))

    print(f"\n{n} stories of ~{WORDS} words per round and path, {args.rounds} rounds "
          f"interleaved, NEWSFLOW_WORKERS={args.workers}, loads of {seconds:.0f}s with "
          f"{args.connections} connections ({'wrk' if shutil.which('wrk') else 'httpx'})")
    print("| what | Newsflow | reference in the same run | ratio (median of rounds) | goal |")
    print("|---|---|---|---|---|")
    for name, label in (("xadd", "stories/s, XADD into news.ingested → news.published"),
                        ("post", "same, through POST /v1/articles")):
        print(f"| {label} | {cells(rows[name])} | bare nlp.pipe, {args.workers} processes: "
              f"{cells(rows['bare'])} | {ratio(name, 'bare'):.2f} | ≥ 0.9 |")
    print(f"| ingest req/s, small JSON stories | {cells(rows['ingest'], '{:.0f}')} "
          f"({cells([1000 * v for v in rows['ingest cpu']])} ms CPU each) | bare FastAPI + "
          f"XADD: {cells(rows['bare app'], '{:.0f}')} "
          f"({cells([1000 * v for v in rows['bare app cpu']])} ms) | "
          f"{ratio('ingest', 'bare app'):.2f} | ≥ 0.7 |")
    names = list(cpu["xadd"][0])
    print("\nCPU ms per story, median of rounds")
    print("| path | " + " | ".join(names) + " | plumbing (ingest + enrich main + publish) |")
    print("|---|" + "---|" * (len(names) + 1))
    for path in ("xadd", "post"):
        values = {k: 1000 * statistics.median(r[k] for r in cpu[path]) for k in names}
        plumbing = values["ingest"] + values["enrich main"] + values["publish"]
        print(f"| {path} | " + " | ".join(f"{values[k]:.1f}" for k in names)
              + f" | {plumbing:.1f} (goal ≤ 3) |")
    print("| bare nlp.pipe | " + " | ".join(f"{1000 * med['bare cpu']:.1f}" if k == "NLP workers"
                                         else "" for k in names) + " | |")
    print(f"\naccept (202) → news.published, {len(lat)} stories sent one by one at {rate:.1f}/s "
          f"(half the XADD rate): p50 {statistics.median(lat):.0f} ms, "
          f"p99 {lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.0f} ms")


if __name__ == "__main__":
    main()
