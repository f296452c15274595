"""Progress of long commands (push of many files, replays): a bar on stderr, then one summary.

The bar shows on a terminal, or anywhere with ``--progress``; stdout stays the command's output.
Ctrl-C stops between two items: the summary says how far it got, and the same command run again
carries on from there without sending anything twice (each item is idempotent, or gone once
done).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

INTERRUPTED = 130  # the shell's status for a command stopped by SIGINT

ShowProgress = Annotated[bool | None, typer.Option(
    "--progress/--no-progress", show_default=False,
    help="A progress bar on stderr (default: only on a terminal)")]


class Tally:
    """Counts outcomes by name and drives the bar."""

    def __init__(self, progress: Progress | None, task: TaskID | None) -> None:
        self.counts: Counter[str] = Counter()
        self.done = 0
        self._progress = progress
        self._task = task

    def add(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] += n

    def advance(self) -> None:
        self.done += 1
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task)

    def grow(self, n: int) -> None:
        """More items than first counted (a listing that came in pages)."""
        if n and self._progress is not None and self._task is not None:
            total = next(t.total for t in self._progress.tasks if t.id == self._task)
            self._progress.update(self._task, total=(total or 0) + n)

    def describe(self, order: tuple[str, ...]) -> str:
        names = [*order, *sorted(set(self.counts) - set(order))]
        return ", ".join(f"{self.counts[n]} {n}" for n in names)


@contextmanager
def tracked(total: int, label: str, show: bool | None) -> Iterator[Tally]:
    """A bar of ``total`` items on stderr while the block runs (when wanted)."""
    if show is None:
        show = sys.stderr.isatty()
    if not show or total == 0:
        yield Tally(None, None)
        return
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=False)
    with progress:
        yield Tally(progress, progress.add_task(label, total=total))


def summary(line: str, *, interrupted: bool, resume: str) -> None:
    """The last line on stderr; after Ctrl-C it says how to carry on, and exits 130."""
    if interrupted:
        typer.echo(f"interrupted: {line}; {resume}", err=True)
        raise typer.Exit(INTERRUPTED)
    typer.echo(line, err=True)
