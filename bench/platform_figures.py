"""End-to-end figures of the running platform: push-to-published latency and memory per service.

Starts nx-27017 and the three services as processes (like ``newsflow run``) on private stream
names, pushes the sample story N times under fresh uris one at a time, and prints latency
percentiles and the resident memory of every process (enrich with its worker processes).

    uv run python bench/platform_figures.py [--n 20]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson
import redis

from shared.events import PUBLISHED_STREAM

from newsflow_cli.platform import Platform, running

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "000_23ba3fd990788c7e.txt"


def descendants(pid: int) -> list[int]:
    """A process and all its descendants (from /proc, Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pids = [], [pid]
    while pids:
        current = pids.pop()
        found.append(current)
        pids.extend(children.get(current, []))
    return found


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name; none once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 once it is gone (from /proc)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def system_s(pid: int) -> float:
    """CPU seconds a process has spent in the kernel so far (stime; 0 once it is gone)."""
    fields = _stat(pid)
    return int(fields[12]) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def page_faults(pid: int) -> float:
    """Minor page faults a process has taken so far (minflt; 0 once it is gone)."""
    fields = _stat(pid)
    return float(fields[7]) if fields else 0.0


def rss_mb(pid: int) -> list[float]:
    """Resident memory of a process and of each of its descendants, in MB."""
    sizes = []
    for current in descendants(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        sizes.append(next((int(line.split()[1]) for line in status.splitlines()
                           if line.startswith("VmRSS:")), 0) / 1024)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="stories to push")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    text = SAMPLE.read_text()
    headline, _, body = text.partition("\n")
    prefix = f"bench-{secrets.token_hex(3)}:"
    with tempfile.TemporaryDirectory() as workdir:
        platform = Platform(workdir=Path(workdir), redis_url=args.redis_url, stream_prefix=prefix,
                            extra_env={"NEWSFLOW_BLOCK_MS": "20"})
        with running(platform, timeout=180):
            client = redis.Redis.from_url(args.redis_url)
            stream = prefix + PUBLISHED_STREAM
            latencies = []
            last = "0-0"
            for n in range(args.n + 1):
                uri = f"urn:bench:{secrets.token_hex(6)}"
                story = orjson.dumps({"uri": uri, "headline": headline.strip(),
                                      "body": body.strip() + f"\n\nRun {n}."})
                started = time.perf_counter()
                response = httpx.post(f"{platform.url('ingest')}/v1/articles", content=story,
                                      headers={"Authorization": f"Bearer {platform.ingest_key}",
                                               "Content-Type": "application/json"}, timeout=30)
                response.raise_for_status()
                found = False
                while not found:
                    for _, entries in client.xread({stream: last}, block=5000) or []:
                        for entry_id, fields in entries:
                            last = entry_id
                            found = found or fields[b"ce_subject"].decode() == uri
                if n:  # the first story warms the models up
                    latencies.append((time.perf_counter() - started) * 1000)
            latencies.sort()
            print(f"end-to-end latency, push -> news.published, {len(latencies)} stories "
                  f"of {len((headline + body).split())} words, one at a time:")
            print(f"  p50 {statistics.median(latencies):.0f} ms   "
                  f"p90 {latencies[int(len(latencies) * 0.9) - 1]:.0f} ms   "
                  f"max {latencies[-1]:.0f} ms")
            print("resident memory after the run:")
            for name, process in platform.processes.items():
                own, *workers = rss_mb(process.popen.pid)
                sizes = ", ".join(f"{w:.0f}" for w in workers)
                extra = f"  + child processes {sizes} MB" if workers else ""
                print(f"  {name:8} {own:7.0f} MB{extra}")
            client.delete(*list(client.scan_iter(match=f"{prefix}*")))


if __name__ == "__main__":
    main()
