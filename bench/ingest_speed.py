"""Ingest alone against a bare FastAPI + XADD app, rounds interleaved: step 5 of pipeline.py
without the rest of the platform, so that a change to ingest's request path can be measured in
a minute instead of the pipeline bench's quarter of an hour.

Both apps run as processes on their own stream names (nothing consumes them) and are loaded in
turn by ``wrk`` with small JSON stories, each under a new uri (``apt-get install -y wrk``;
without it an in-process generator is used, which saturates below either app). The order of the
sides turns every round, so that neither always runs after the other. CPU per request is the
process's own (utime + stime from /proc) over the requests ``wrk`` counted.

``--against DIR`` adds a third side: ingest from another checkout of the repository (its
``services/ingest/src`` and ``shared/src`` put first on the path, the same virtual environment
otherwise), for a before/after comparison in the same run, e.g. after
``git archive main | tar -x -C /tmp/before``.

    uv run --frozen nice -n 10 python bench/ingest_speed.py [--rounds 5] [--seconds 5]
        [--against /tmp/before]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
from pathlib import Path

import redis
from pipeline import bare_app, load
from platform_figures import cpu_s

from shared.events import INGESTED_STREAM

from newsflow_cli.platform import Platform


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5, help="load per side and round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--against", type=Path, help="another checkout whose ingest runs too")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    run = secrets.token_hex(3)
    client = redis.Redis.from_url(args.redis_url)
    rows: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        platforms = {"ingest": Platform(workdir=workdir / "ingest", redis_url=args.redis_url,
                                        stream_prefix=f"bench-{run}-ingest:")}
        if args.against:
            checkout = args.against.resolve()
            path = [str(checkout / "services" / "ingest" / "src"), str(checkout / "shared" / "src")]
            platforms["against"] = Platform(
                workdir=workdir / "against", redis_url=args.redis_url,
                stream_prefix=f"bench-{run}-against:",
                ingest_key=platforms["ingest"].ingest_key,
                extra_env={"PYTHONPATH": os.pathsep.join(path)})
        key = platforms["ingest"].ingest_key
        bare_stream = f"bench-{run}-bare:{INGESTED_STREAM}"
        try:
            for platform in platforms.values():
                platform.workdir.mkdir(parents=True)
                platform.start_service("ingest")
                platform.wait_ready(names=("ingest",))
            with bare_app(workdir, args.redis_url, bare_stream) as (bare_url, bare_pid):
                sides = [(name, p.url("ingest"), p.processes["ingest"].popen.pid)
                         for name, p in platforms.items()]
                sides.append(("bare app", bare_url, bare_pid))
                for _, url, _ in sides:  # warm up: imports, caches, connections
                    load(url, key, f"{run}:warm", 1, args.connections, workdir)
                for r in range(args.rounds):
                    for name, url, pid in sides[r % len(sides):] + sides[:r % len(sides)]:
                        before = cpu_s(pid)
                        rps, requests = load(url, key, f"{run}:{r}:{name[0]}", args.seconds,
                                             args.connections, workdir)
                        rows.setdefault(name, []).append(rps)
                        cpu.setdefault(name, []).append((cpu_s(pid) - before) / requests)
                    print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                        f"{name} {rows[name][-1]:.0f} req/s ({1000 * cpu[name][-1]:.2f} ms CPU)"
                        for name, _, _ in sides), flush=True)
        finally:
            for platform in platforms.values():
                platform.stop()
            keys = list(client.scan_iter(match=f"bench-{run}*"))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start:start + 500])
    report(rows, cpu, args)


def report(rows: dict[str, list[float]], cpu: dict[str, list[float]],
           args: argparse.Namespace) -> None:
    def ratio(name: str) -> list[float]:
        """Per-round ratios to the bare app: each round's sides ran back to back."""
        return [a / b for a, b in zip(rows[name], rows["bare app"], strict=True)]

    print(f"\n{args.rounds} rounds of {args.seconds:.0f} s per side, {args.connections} "
          f"connections, {os.cpu_count()} cores")
    print("| side | req/s (rounds) | ms CPU per request (rounds) | / bare app req/s "
          "(median; range) |")
    print("|---|---|---|---|")
    for name in rows:
        ratios = ratio(name)
        print(f"| {name} | {' / '.join(f'{v:.0f}' for v in rows[name])} | "
              f"{' / '.join(f'{1000 * v:.2f}' for v in cpu[name])} | "
              f"{statistics.median(ratios):.2f}; {min(ratios):.2f}-{max(ratios):.2f} |")


if __name__ == "__main__":
    main()
