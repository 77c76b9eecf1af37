"""Progress of a running cleanup: to Celery's task state, or as a live line on a terminal.

A cleanup calls its `progress` callback with its live summary as it goes (after each token
batch; every few thousand media entries). `Throttled` passes the counts on at most once
per INTERVAL_S (the first call at once), so reporting costs next to nothing. Celery's
`PROGRESS` state is what Flower and `celery result` show while the task runs; the terminal
line is tqdm's, which knows how to redraw and clear a line on any terminal.
"""

import os
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

from celery import current_task
from loguru import logger
from tqdm import tqdm

INTERVAL_S = 1.0
PROGRESS = "PROGRESS"  # Celery's custom-state convention for a running task's counts


class Summary(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


class Throttled:
    """A progress callback: the summary's counts, plus `elapsed_s`, to `report`, at most once
    per `interval_s`."""

    def __init__(
        self,
        report: Callable[[dict[str, Any]], None],
        *,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.report, self.interval_s, self.clock = report, interval_s, clock
        self.started = clock()
        self.last: float | None = None

    def __call__(self, summary: Summary) -> None:
        now = self.clock()
        if self.last is not None and now - self.last < self.interval_s:
            return
        self.last = now
        counts = summary.as_dict()
        counts["elapsed_s"] = round(now - self.started, 3)
        self.report(counts)


def task_progress() -> Throttled | None:
    """Report to the running task's state as PROGRESS; None outside a worker's task.

    The state's meta keeps what STARTED held (`pid`, `hostname`: task_track_started), so
    tools that read those still find them, and adds the counts. A `task-progress` event
    carries the counts to Flower, which shows PROGRESS from events, not from the results.
    Eager runs and direct calls have no result to update (nobody could read it).
    """
    task = current_task
    if not task or task.request.called_directly or task.request.is_eager:
        return None
    started = {"pid": os.getpid(), "hostname": task.request.hostname}
    broken: list[str] = []

    def report(counts: dict[str, Any]) -> None:
        # Best effort: the cleanup matters more than its progress, so a result backend or
        # broker that fails here stops the reports (one WARNING), never the run.
        if broken:
            return
        try:
            task.update_state(state=PROGRESS, meta={**started, **counts})
            task.send_event("task-progress", progress=counts)
        except Exception as exc:  # any backend or broker error
            broken.append(type(exc).__name__)
            logger.warning(
                "{}: progress reports stop, the run goes on: {}: {}",
                task.name,
                type(exc).__name__,
                " ".join(str(exc).split()),
            )

    return Throttled(report)


def deleted_of(counts: dict[str, Any]) -> int:
    """What a summary counts as deleted: files (media) or outstanding tokens (tokens)."""
    return counts.get("deleted", counts.get("outstanding_deleted", 0))


class TerminalLine:
    """One live line, 'scanned 12,345 · deleted 6,000 · 2,469/s · 00:05', cleared at the end."""

    def __init__(self, stream: IO[str]) -> None:
        self.bar = tqdm(file=stream, bar_format="{desc}", leave=False, mininterval=0)

    def __call__(self, counts: dict[str, Any]) -> None:
        elapsed = counts["elapsed_s"]
        rate = counts["scanned"] / elapsed if elapsed > 0 else 0.0
        self.bar.set_description_str(
            f"scanned {counts['scanned']:,} · deleted {deleted_of(counts):,} · "
            f"{rate:,.0f}/s · {tqdm.format_interval(elapsed)}"
        )

    def close(self) -> None:
        self.bar.close()
