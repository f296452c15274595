"""``newsflow migrate-topics``: move stored stories to IPTC's own topic codes, with progress.

Publish runs the same migration at start-up; on a large store, running it first from here shows
a bar and lets an operator stop and carry on (each story is marked once checked, so a second run
looks only at what the first did not reach). Subscription filters are migrated by deliver.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from pymongo import AsyncMongoClient

from newsflow_cli.progress import ShowProgress, Tally, summary, tracked
from publish.errors import StoreUnavailable
from publish.store import ArticleStore, Migrated


def migrate_topics(
    mongodb_uri: Annotated[str, typer.Option(envvar="NEWSFLOW_MONGODB_URI")] = (
        "mongodb://127.0.0.1:27017"),
    database: Annotated[str, typer.Option("--db", envvar="NEWSFLOW_MONGODB_DB")] = "newsflow",
    progress: ShowProgress = None,
) -> None:
    """Move stored stories from the former topic table to IPTC's codes (idempotent)."""
    interrupted = False
    done = Migrated()
    try:
        total = asyncio.run(_count(mongodb_uri, database))
        with tracked(total, "migrating topic codes", progress) as tally:
            try:
                done = asyncio.run(_migrate(mongodb_uri, database, tally))
            except KeyboardInterrupt:
                interrupted = True
    except StoreUnavailable as exc:
        typer.echo(f"newsflow migrate-topics: {exc}", err=True)
        raise typer.Exit(1) from exc
    checked = tally.done
    summary(f"checked {checked} of {total} stories: {done.documents} rewritten, {done.codes} "
            f"topic codes changed, {done.skipped} changed meanwhile (left for the next run)",
            interrupted=interrupted, resume="run it again to carry on")


async def _count(uri: str, database: str) -> int:
    client: AsyncMongoClient = AsyncMongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        return await ArticleStore(client, database).unchecked_topic_codes()
    finally:
        await client.close()


async def _migrate(uri: str, database: str, tally: Tally) -> Migrated:
    client: AsyncMongoClient = AsyncMongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        return await ArticleStore(client, database).migrate_topic_codes(tally.advance)
    finally:
        await client.close()
