"""One run of each cleanup, configured from settings at the current time.

The task and the management command both start runs through here, so they share the
settings they read and the clock they take "now" from. Every run is wrapped in
`history.run_and_record`, so each one leaves one row in the run history.
`should_stop` is the management command's SIGINT / SIGTERM: polled by the cleanup, it
ends the run early (`completed: false`), recorded as `partial` and `interrupted`.
"""

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from maintenance import history
from maintenance.history import RecordedRun
from maintenance.media import MediaCleanupSummary, delete_old_media
from maintenance.redaction import redact_exception
from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens

S = TypeVar("S", MediaCleanupSummary, TokenCleanupSummary)


def _never() -> bool:
    return False


def run_media_cleanup(
    *,
    dry_run: bool,
    should_stop: Callable[[], bool] = _never,
    progress: Callable[[MediaCleanupSummary], None] | None = None,
) -> RecordedRun[MediaCleanupSummary]:
    """Clean GENERATED_MEDIA_ROOT as configured, at the current time."""
    return _recorded(
        "clean_generated_media",
        dry_run,
        should_stop,
        lambda now: delete_old_media(
            root=settings.GENERATED_MEDIA_ROOT,
            now=now,
            max_age=timedelta(days=settings.GENERATED_MEDIA_MAX_AGE_DAYS),
            keep=settings.GENERATED_MEDIA_KEEP,
            dry_run=dry_run,
            should_stop=should_stop,
            protected=protected_paths(),
            progress=progress,
        ),
    )


def protected_paths() -> list[tuple[str, str]]:
    """What a media root must never contain: the SQLite databases and the log folder."""
    found = [
        ("the SQLite database", os.path.realpath(db["NAME"]))
        for db in settings.DATABASES.values()
        if "sqlite" in db["ENGINE"] and str(db["NAME"]) not in ("", ":memory:")
    ]
    return [*found, ("the log folder", os.path.realpath(settings.LOG_DIR))]


def run_token_cleanup(
    *,
    dry_run: bool,
    should_stop: Callable[[], bool] = _never,
    progress: Callable[[TokenCleanupSummary], None] | None = None,
) -> RecordedRun[TokenCleanupSummary]:
    """Clean the token blacklist tables as configured, at the current time."""
    return _recorded(
        "clean_blacklisted_tokens",
        dry_run,
        should_stop,
        lambda now: delete_expired_tokens(
            now=now,
            margin=timedelta(days=settings.TOKEN_CLEANUP_SAFETY_MARGIN_DAYS),
            batch_size=settings.TOKEN_CLEANUP_BATCH_SIZE,
            dry_run=dry_run,
            should_stop=should_stop,
            # At the task's soft time limit: stop, keep the committed batches, report
            # a partial summary ("completed": false). The next run finishes the job.
            interrupted_by=(SoftTimeLimitExceeded,),
            progress=progress,
        ),
    )


def _recorded(
    task: str, dry_run: bool, should_stop: Callable[[], bool], cleanup: Callable[[datetime], S]
) -> RecordedRun[S]:
    """Run `cleanup` at the current time inside the run history (record, then prune).

    An exception leaves with its JWTs redacted: the command prints its message.
    """
    try:
        return history.run_and_record(
            task,
            dry_run=dry_run,
            cleanup=cleanup,
            clock=timezone.now,
            keep=timedelta(days=settings.MAINTENANCE_HISTORY_DAYS),
            interrupted=should_stop,
        )
    except Exception as exc:
        redact_exception(exc)
        raise
