"""The run history: record one row per cleanup run, and prune old rows.

Plain functions with the clock passed in. `run_and_record` is what `maintenance.runs`
wraps every run in, so the task (whether beat, `celery call` or Flower sent it) and the
management command all leave the same trace.
"""

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from celery import current_task
from django.db import DatabaseError, transaction
from django.db.models import F, Max
from loguru import logger

from maintenance import once
from maintenance.models import MaintenanceRun, PrunedRuns
from maintenance.redaction import redact

ERROR_TEXT_LIMIT = 10_000  # characters of traceback kept in a row


class Summary(Protocol):
    def as_dict(self) -> dict: ...


S = TypeVar("S", bound=Summary)


def outcome_of(summary: dict | None) -> str:
    """Return the outcome of a run that returned `summary` (None: it raised).

    `partial` means the run stopped before the end: its summary's `completed` is False.
    """
    if summary is None:
        return MaintenanceRun.Outcome.FAILED
    if summary.get("completed", True) is False:
        return MaintenanceRun.Outcome.PARTIAL
    return MaintenanceRun.Outcome.OK


def current_origin() -> str:
    """Return how the current run started: from beat, as a task call, or directly.

    Beat marks the messages it sends with the `celery_beat_task` header (Celery >= 5.5).
    """
    if not current_task or current_task.request.called_directly:
        return MaintenanceRun.Origin.COMMAND
    from_beat = once.request_header("celery_beat_task")
    return MaintenanceRun.Origin.BEAT if from_beat else MaintenanceRun.Origin.TASK


def error_text(exc: BaseException) -> str:
    """Return the exception's traceback for the history, JWTs redacted, length capped."""
    text = redact("".join(traceback.format_exception(exc)))
    if len(text) > ERROR_TEXT_LIMIT:
        text = "…" + text[-ERROR_TEXT_LIMIT:]  # the end names the exception
    return text


def record_run(
    *,
    task: str,
    origin: str,
    dry_run: bool,
    started_at: datetime,
    finished_at: datetime,
    summary: dict | None,
    error: str = "",
    claimed: MaintenanceRun | None = None,
) -> MaintenanceRun:
    """Write one history row; the outcome follows from `summary` (None: the run failed).

    A beat run that claimed its fire time (maintenance/once.py) fills in its claimed row.
    """
    run = claimed or MaintenanceRun(task=task, origin=origin, dry_run=dry_run)
    run.started_at, run.finished_at = started_at, finished_at
    run.summary, run.outcome, run.error = summary, outcome_of(summary), error
    run.save()
    logger.info(
        "maintenance run recorded: {} {} ({}, dry_run={}, id={})",
        task,
        run.outcome,
        origin,
        dry_run,
        run.pk,
    )
    return run


def prune_history(*, now: datetime, max_age: timedelta) -> int:
    """Delete rows that finished more than `max_age` before `now`; return how many.

    Strict: a row exactly `max_age` old is kept. The most recent successful (`ok`, not
    dry) row of each task and beat entry is always kept, however old, so the health check
    can still say when a long-dead task (or one web host's media run) last worked. Deleted
    real runs are added to `PrunedRuns` in the same transaction, for the metrics' counters.
    """
    last_successes = (
        MaintenanceRun.objects.filter(outcome=MaintenanceRun.Outcome.OK, dry_run=False)
        .values("task", "beat_entry")
        .annotate(last=Max("finished_at"))
    )
    keep_ids = [
        MaintenanceRun.objects.filter(
            task=row["task"],
            beat_entry=row["beat_entry"],
            outcome=MaintenanceRun.Outcome.OK,
            dry_run=False,
            finished_at=row["last"],
        )
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
        for row in last_successes
    ]
    doomed = MaintenanceRun.objects.filter(finished_at__lt=now - max_age).exclude(id__in=keep_ids)
    deleted = 0
    for group in doomed.values("task", "outcome", "dry_run").distinct().order_by():
        with transaction.atomic():
            count, _ = doomed.filter(**group).delete()
            if not group["dry_run"]:
                tally, _ = PrunedRuns.objects.get_or_create(
                    task=group["task"], outcome=group["outcome"]
                )
                PrunedRuns.objects.filter(pk=tally.pk).update(runs=F("runs") + count)
        deleted += count
    if deleted:
        logger.info("maintenance history pruned: {} rows older than {}", deleted, max_age)
    return deleted


@dataclass
class RecordedRun(Generic[S]):
    """A cleanup's summary, why it stopped early if it did, and whether its row was written."""

    summary: S
    stop_reason: str = ""  # "" when completed; "interrupted" (asked to stop) or "time_limit"
    recorded: bool = False

    def as_dict(self) -> dict:
        """The summary's fields, then `stop_reason` and `recorded`: what a run reports."""
        return {
            **self.summary.as_dict(),
            "stop_reason": self.stop_reason,
            "recorded": self.recorded,
        }


def run_and_record(
    task: str,
    *,
    dry_run: bool,
    cleanup: Callable[[datetime], S],
    clock: Callable[[], datetime],
    keep: timedelta,
    interrupted: Callable[[], bool] = lambda: False,
) -> RecordedRun[S] | once.Duplicate:
    """Run `cleanup(now)`, write its history row, prune old rows; return the recorded run.

    A cleanup that raises is recorded as `failed` with its traceback, then the exception
    propagates unchanged. A summary with `completed: false` is recorded as `partial`, its
    `stop_reason` "interrupted" when `interrupted()` says the caller asked it to stop,
    else "time_limit" (the other way a run ends early: Celery's soft time limit). The
    history is bookkeeping, not the job: when the database refuses the row (it is down),
    that is one WARNING line, `recorded` is False, and the run's own result still stands.
    """
    origin = current_origin()
    started_at = clock()
    claimed = None
    if origin == MaintenanceRun.Origin.BEAT:
        claimed = once.claim_current(task, dry_run=dry_run, started_at=started_at)
        if isinstance(claimed, once.Duplicate):
            return claimed  # this fire time is another message's: nothing cleaned
    try:
        summary = cleanup(started_at)
    except Exception as exc:
        _save_quietly(
            task, origin, dry_run, started_at, clock(), None, error_text(exc), keep, claimed
        )
        raise
    run = RecordedRun(summary, recorded=True)  # as the row says: it exists once written
    if outcome_of(summary.as_dict()) == MaintenanceRun.Outcome.PARTIAL:
        run.stop_reason = "interrupted" if interrupted() else "time_limit"
    run.recorded = _save_quietly(
        task, origin, dry_run, started_at, clock(), run.as_dict(), "", keep, claimed
    )
    return run


def _save_quietly(
    task: str,
    origin: str,
    dry_run: bool,
    started_at: datetime,
    finished_at: datetime,
    summary: dict | None,
    error: str,
    keep: timedelta,
    claimed: MaintenanceRun | None = None,
) -> bool:
    """Write the row, then prune; True when the row was written. Never raises DatabaseError."""
    try:
        record_run(
            task=task,
            origin=origin,
            dry_run=dry_run,
            started_at=started_at,
            finished_at=finished_at,
            summary=summary,
            error=error,
            claimed=claimed,
        )
    except DatabaseError as exc:
        logger.warning("could not write the run history of {}: {}", task, one_line(exc))
        return False
    try:
        prune_history(now=finished_at, max_age=keep)
    except DatabaseError as exc:
        logger.warning("could not prune the run history: {}", one_line(exc))
    return True


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line, for a log line or an error that must not be a traceback."""
    detail = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
