"""The run history: write one row per cleanup run, and prune old rows.

Plain functions with the times passed in; maintenance/recording.py calls them around each
run, whether beat, `celery call`, Flower or a management command started it.
"""

import traceback
from datetime import datetime, timedelta
from typing import Protocol

from django.db import transaction
from django.db.models import F, Max
from loguru import logger

from maintenance.models import MaintenanceRun, PrunedRuns
from maintenance.redaction import redact

ERROR_TEXT_LIMIT = 10_000  # characters of traceback kept in a row


class Summary(Protocol):
    def as_dict(self) -> dict: ...


def outcome_of(summary: dict | None) -> str:
    """Return the outcome of a run that returned `summary` (None: it raised).

    `partial` means the run stopped before the end: its summary's `completed` is False.
    """
    if summary is None:
        return MaintenanceRun.Outcome.FAILED
    if summary.get("completed", True) is False:
        return MaintenanceRun.Outcome.PARTIAL
    return MaintenanceRun.Outcome.OK


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
    """Delete rows that finished strictly more than `max_age` before `now`; return how many.

    The last real success of each task and beat entry stays, however old, for the health
    check; deleted real runs are tallied in `PrunedRuns`, for the metrics' counters.
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


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line, for a log line or an error that must not be a traceback."""
    detail = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
