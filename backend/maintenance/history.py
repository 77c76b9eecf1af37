"""The run history: record one row per cleanup run, and prune old rows.

Plain functions with the clock passed in. `run_and_record` is what `maintenance.runs`
wraps every run in, so the task (whether beat, `celery call` or Flower sent it) and the
management command all leave the same trace.
"""

import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from celery import current_task
from django.db import DatabaseError, transaction
from django.db.models import F, Max
from loguru import logger

from config.logs import redact
from maintenance.models import MaintenanceRun, PrunedRuns

ERROR_TEXT_LIMIT = 10_000  # characters of traceback kept in a row


class Summary(Protocol):
    def as_dict(self) -> dict: ...


S = TypeVar("S", bound=Summary)


def outcome_of(summary: dict | None) -> str:
    """Return the outcome of a run that returned `summary` (None: it raised).

    `partial` means the run stopped before the end (the token summary's `completed` is
    False); a summary without a `completed` field (media) is complete by construction.
    """
    if summary is None:
        return MaintenanceRun.Outcome.FAILED
    if summary.get("completed", True) is False:
        return MaintenanceRun.Outcome.PARTIAL
    return MaintenanceRun.Outcome.OK


def current_origin() -> str:
    """Return how the current run started: from beat, as a task call, or directly.

    Beat marks the messages it sends with the `celery_beat_task` header (Celery >= 5.5).
    A worker exposes message headers as request attributes; an eager `apply()` keeps them
    in `request.headers`, so both places are read.
    """
    if not current_task:  # a proxy: false when no task is executing
        return MaintenanceRun.Origin.COMMAND
    request = current_task.request
    if request.called_directly:
        return MaintenanceRun.Origin.COMMAND
    from_beat = getattr(request, "celery_beat_task", False) or (request.headers or {}).get(
        "celery_beat_task", False
    )
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
) -> MaintenanceRun:
    """Write one history row; the outcome follows from `summary` (None: the run failed)."""
    run = MaintenanceRun.objects.create(
        task=task,
        origin=origin,
        dry_run=dry_run,
        started_at=started_at,
        finished_at=finished_at,
        summary=summary,
        outcome=outcome_of(summary),
        error=error,
    )
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
    dry) row of each task is always kept, however old, so the health check can still
    say when a long-dead task last worked instead of "never". Deleted real runs are
    added to `PrunedRuns` in the same transaction, for the metrics' counters.
    """
    last_successes = (
        MaintenanceRun.objects.filter(outcome=MaintenanceRun.Outcome.OK, dry_run=False)
        .values("task")
        .annotate(last=Max("finished_at"))
    )
    keep_ids = [
        MaintenanceRun.objects.filter(
            task=row["task"],
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


def run_and_record(
    task: str,
    *,
    dry_run: bool,
    cleanup: Callable[[datetime], S],
    clock: Callable[[], datetime],
    keep: timedelta,
) -> S:
    """Run `cleanup(now)`, write its history row, prune old rows; return its summary.

    A cleanup that raises is recorded as `failed` with its traceback, then the exception
    propagates unchanged. The history is bookkeeping, not the job: when the database
    refuses the row (it is down), that is logged and the run's own result still stands.
    """
    origin = current_origin()
    started_at = clock()
    try:
        summary = cleanup(started_at)
    except Exception as exc:
        _save_quietly(task, origin, dry_run, started_at, clock(), None, error_text(exc), keep)
        raise
    _save_quietly(task, origin, dry_run, started_at, clock(), summary.as_dict(), "", keep)
    return summary


def _save_quietly(
    task: str,
    origin: str,
    dry_run: bool,
    started_at: datetime,
    finished_at: datetime,
    summary: dict | None,
    error: str,
    keep: timedelta,
) -> None:
    try:
        record_run(
            task=task,
            origin=origin,
            dry_run=dry_run,
            started_at=started_at,
            finished_at=finished_at,
            summary=summary,
            error=error,
        )
        prune_history(now=finished_at, max_age=keep)
    except DatabaseError:
        logger.exception("could not write the run history of {}", task)
