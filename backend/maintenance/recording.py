"""`recorded_run`: one row of run history around a cleanup that its caller runs.

The task or the command reads its settings and `now`, and calls its cleanup inside; this
records (ok, partial, failed), prunes, and claims a beat message's fire time first. The rules:
docs/periodic-tasks.md, "Run history" and "Exactly once per fire time".
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_task
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from loguru import logger

from maintenance import history, once
from maintenance.history import Summary, error_text, one_line, outcome_of
from maintenance.models import MaintenanceRun
from maintenance.redaction import redact_exception


@dataclass
class RecordedRun:
    """A cleanup's summary (set by the caller), why it stopped early, whether its row exists."""

    summary: Summary | None = None  # MediaCleanupSummary or TokenCleanupSummary
    stop_reason: str = ""  # "" when completed; else the `stop_reason` of recorded_run
    recorded: bool = False

    def as_dict(self) -> dict:
        """The summary's fields, then `stop_reason` and `recorded`: what a run reports."""
        return {
            **self.summary.as_dict(),
            "stop_reason": self.stop_reason,
            "recorded": self.recorded,
        }


class DuplicateRun(Exception):
    """Raised on entering a beat run whose fire time another message holds: clean nothing."""

    def as_dict(self) -> dict:
        """The task's result: the `once.Duplicate` it was raised with, as a dict."""
        (duplicate,) = self.args
        return duplicate.as_dict()


def current_origin() -> str:
    """Return how the current run started: from beat, as a task call, or directly.

    Beat marks the messages it sends with the `celery_beat_task` header (Celery >= 5.5).
    """
    if not current_task or current_task.request.called_directly:
        return MaintenanceRun.Origin.COMMAND
    from_beat = once.request_header("celery_beat_task")
    return MaintenanceRun.Origin.BEAT if from_beat else MaintenanceRun.Origin.TASK


@contextmanager
def recorded_run(
    task: str, *, dry_run: bool, started_at: datetime, stop_reason: str = "time_limit"
) -> Iterator[RecordedRun]:
    """Record the run of `task` that the block performs (the block sets `run.summary`).

    `stop_reason` is what a run that ends early records: the task's soft time limit, or
    the command's signal ("interrupted"), the only way each of them stops early.
    """
    origin = current_origin()
    claimed = None
    if origin == MaintenanceRun.Origin.BEAT:
        claimed = once.claim_current(task, dry_run=dry_run, started_at=started_at)
        if isinstance(claimed, once.Duplicate):
            raise DuplicateRun(claimed)
    row = {
        "task": task,
        "origin": origin,
        "dry_run": dry_run,
        "started_at": started_at,
        "claimed": claimed,
    }
    run = RecordedRun()
    try:
        yield run
    except Exception as exc:
        redact_exception(exc)
        _save_quietly(row, summary=None, error=error_text(exc))
        raise
    run.recorded = True  # as the row will say: it exists once written
    if outcome_of(run.summary.as_dict()) == MaintenanceRun.Outcome.PARTIAL:
        run.stop_reason = stop_reason
    run.recorded = _save_quietly(row, summary=run.as_dict(), error="")


def _save_quietly(row: dict, *, summary: dict | None, error: str) -> bool:
    """Write the row, then prune; True when the row was written. Never raises DatabaseError."""
    finished_at = timezone.now()
    try:
        history.record_run(**row, finished_at=finished_at, summary=summary, error=error)
    except DatabaseError as exc:
        logger.warning("could not write the run history of {}: {}", row["task"], one_line(exc))
        return False
    try:
        history.prune_history(
            now=finished_at, max_age=timedelta(days=settings.MAINTENANCE_HISTORY_DAYS)
        )
    except DatabaseError as exc:
        logger.warning("could not prune the run history: {}", one_line(exc))
    return True
