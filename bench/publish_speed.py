"""publish's CPU per story, alone, optionally beside another checkout's publish in the same run.

publish runs as a process on stream names of its own against one nx-27017, and every round
XADDs a burst of enriched stories into its ``news.enriched`` (as enrich writes them: source
``newsflow/enrich``, the article's wire form dumped by orjson) and waits until all are on its
``news.published``. The stories are ~600 words of the development data with the entities,
mentions, subjects, keywords and summary a story of that length gets from enrich (made up here,
so that no model is needed). CPU per story is publish's own and nx-27017's (utime + stime from
/proc over the stories of the round; a pause after the last one is included).

``--trickle`` sends the stories one at a time instead, each once the one before is on
news.published and a short pause has passed (``--pause-ms``), as under low load: every batch is
then one story, and the figure is publish's fixed cost per batch (plus what it spends idle over
the pauses, a few per cent).

``--against DIR`` runs a second publish from another checkout of the repository (its
``services/publish/src`` and ``shared/src`` first on the path), the two in turn every round,
e.g. after ``git archive main | tar -x -C /tmp/before``.

    uv run --frozen nice -n 10 python bench/publish_speed.py [--rounds 4] [--stories 300]
        [--against /tmp/before] [--trickle [--pause-ms 20]]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from devdata import DATA
from pipeline import load_texts, stories
from platform_figures import cpu_s

from shared.article import Article
from shared.events import ENRICHED_STREAM, PUBLISHED_STREAM, ArticleEnriched, ArticleIngested

from newsflow_cli.platform import Platform


def enriched(uri: str, headline: str, body: str) -> dict[str, Any]:
    """The wire form of a story as enrich leaves it."""
    words = body.split()

    def entities(kind: str, count: int) -> list[dict[str, Any]]:
        return [{"name": " ".join(words[i * 7:i * 7 + 2]).strip(".,"), "type": kind, "count": 3,
                 "salience": 0.5, "firstPosition": i * 40,
                 "mentions": [{"field": "body", "start": i * 40 + k * 9, "end": i * 40 + k * 9 + 8}
                              for k in range(3)]}
                for i in range(count)]

    return Article.model_validate({
        "uri": uri, "version": 1, "versionCreated": datetime.now(UTC), "language": "en",
        "headlines": [{"value": headline}], "bodies": [{"value": body}],
        "source": {"provider": "local", "format": "json", "rawHash": "ab" * 32},
        "subjects": [{"uri": f"http://cv.iptc.org/newscodes/mediatopic/{code}",
                      "code": f"medtop:{code}", "name": "topic", "scheme": "medtop",
                      "rel": "about", "confidence": 0.7, "level": 1}
                     for code in ("04000000", "20000344", "11000000")],
        "people": entities("person", 10), "organisations": entities("organisation", 8),
        "places": entities("place", 6), "keywords": words[:10],
        "descriptions": [{"value": " ".join(words[:75])}], "wordCount": len(words),
        "readingTimeSeconds": len(words) * 60 // 230,
    }).wire()


def burst(client: redis.Redis, in_stream: str, out: str, entries: list[Any], queued: int,
          name: str) -> None:
    """All the stories in one pipeline; back once all are on news.published."""
    pipe = client.pipeline(transaction=False)
    for fields in entries:
        pipe.xadd(in_stream, fields)
    pipe.execute()
    deadline = time.monotonic() + 300
    while client.xlen(out) - queued < len(entries):
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: stories not published within 300 s")
        time.sleep(0.05)


def trickle(client: redis.Redis, in_stream: str, out: str, entries: list[Any],
            pause_s: float) -> None:
    """One story at a time: each is sent once the one before is on news.published (a blocking
    XREAD, so waiting costs publish nothing) and ``pause_s`` has passed."""
    last = client.xinfo_stream(out)["last-generated-id"] if client.exists(out) else b"0-0"
    for fields in entries:
        client.xadd(in_stream, fields)
        reply = client.xread({out: last}, count=1, block=30_000)
        if not reply:
            raise SystemExit("a story was not published within 30 s")
        last = reply[0][1][-1][0]
        time.sleep(pause_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--stories", type=int, default=300, help="per round and side")
    parser.add_argument("--against", type=Path, help="another checkout whose publish runs too")
    parser.add_argument("--trickle", action="store_true",
                        help="one story at a time (batches of one), as under low load")
    parser.add_argument("--pause-ms", type=float, default=20.0,
                        help="with --trickle: pause after each story is published")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    texts = load_texts(args.data)
    run = secrets.token_hex(3)
    client = redis.Redis.from_url(args.redis_url)
    figures: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        database = Platform(workdir=workdir / "mongo", redis_url=args.redis_url)
        database.workdir.mkdir()
        database.start_mongo()
        mongo_pid = database.processes["mongo"].popen.pid
        sides: dict[str, dict[str, str]] = {"publish": {}}
        if args.against:
            checkout = args.against.resolve()
            path = [str(checkout / "services" / "publish" / "src"),
                    str(checkout / "shared" / "src")]
            sides["against"] = {"PYTHONPATH": os.pathsep.join(path)}
        platforms: dict[str, Platform] = {}
        try:
            for name, env in sides.items():
                platform = Platform(workdir=workdir / name, redis_url=args.redis_url,
                                    stream_prefix=f"bench-{run}-{name}:",
                                    mongodb_uri=database.mongodb_uri,
                                    mongodb_db=f"bench_{run}_{name}", extra_env=env)
                platform.workdir.mkdir()
                platform.start_service("publish")
                platform.wait_ready(names=("publish",))
                platforms[name] = platform
            for r in range(-1, args.rounds):  # round -1 warms up
                order = list(platforms.items())
                for name, platform in order[r % len(order):] + order[:r % len(order)]:
                    pairs = stories(texts, 20 if r < 0 else args.stories, 1000 + r * 1000)
                    entries = []
                    for i, (headline, body) in enumerate(pairs):
                        cause = ArticleIngested(id=secrets.token_hex(16),
                                                type=ArticleIngested.TYPE, source="bench",
                                                time=datetime.now(UTC), subject="urn:bench")
                        wire = enriched(f"urn:bench:{run}:{name}:{r}:{i}", headline, body)
                        entries.append(ArticleEnriched.follow_wire(cause, wire,
                                                                   "newsflow/enrich").to_fields())
                    pid = platform.processes["publish"].popen.pid
                    out = platform.stream_prefix + PUBLISHED_STREAM
                    queued = client.xlen(out)
                    before, mongo_before = cpu_s(pid), cpu_s(mongo_pid)
                    if args.trickle:
                        trickle(client, platform.stream_prefix + ENRICHED_STREAM, out, entries,
                                args.pause_ms / 1000)
                    else:
                        burst(client, platform.stream_prefix + ENRICHED_STREAM, out, entries,
                              queued, name)
                    time.sleep(0.3)  # publish acks and logs after it emits
                    if r >= 0:
                        figures.setdefault(name, []).append(
                            ((cpu_s(pid) - before) / len(entries),
                             (cpu_s(mongo_pid) - mongo_before) / len(entries)))
                if r >= 0:
                    print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                        f"{name} {1000 * f[-1][0]:.2f} ms (nx-27017 {1000 * f[-1][1]:.2f} ms)"
                        for name, f in figures.items()), flush=True)
        finally:
            for platform in platforms.values():
                platform.stop()
            database.stop()
            keys = list(client.scan_iter(match=f"bench-{run}*"))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start:start + 500])
    mode = f"one at a time, {args.pause_ms:g} ms apart" if args.trickle else "in one burst"
    print(f"\n{args.rounds} rounds of {args.stories} stories per side ({mode}),"
          f" {os.cpu_count()} cores")
    print("| side | publish ms CPU per story (rounds) | median | nx-27017 ms CPU per story |")
    print("|---|---|---|---|")
    for name, rows in figures.items():
        print(f"| {name} | {' / '.join(f'{1000 * p:.2f}' for p, _ in rows)} | "
              f"{1000 * statistics.median(p for p, _ in rows):.2f} | "
              f"{1000 * statistics.median(m for _, m in rows):.2f} |")


if __name__ == "__main__":
    main()
