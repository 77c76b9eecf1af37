"""Celery tasks: each reads its settings and `now`, and calls its cleanup inside a recorded run.

A task returns its run's summary as a JSON-serializable dict and, while it runs, reports
its counts as the PROGRESS state (maintenance/progress.py). Delivery, retries and time
limits: docs/periodic-tasks.md, "Delivery, retries and time limits".
"""

import os
from datetime import timedelta
from pathlib import Path

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from maintenance.media import delete_old_media
from maintenance.progress import task_progress
from maintenance.recording import DuplicateRun, recorded_run
from maintenance.redaction import redact_exception
from maintenance.tokens import delete_expired_tokens


class MaintenanceTask(Task):
    """A cleanup task: acknowledged after its run, retried on database errors, JWTs redacted.

    A beat copy whose fire time another message holds returns its `duplicate` result.
    """

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (OperationalError, InterfaceError)
    max_retries = 3
    retry_backoff_max = 300  # seconds
    retry_jitter = True

    def __call__(self, *args: object, **kwargs: object) -> object:
        try:
            return super().__call__(*args, **kwargs)
        except DuplicateRun as duplicate:
            return duplicate.as_dict()
        except Exception as exc:
            redact_exception(exc)
            raise

    def retry(
        self,
        *args: object,
        exc: BaseException | None = None,
        countdown: float | None = None,
        **options: object,
    ) -> object:
        """Celery's retry, `exc` redacted, after up to MAINTENANCE_RETRY_BACKOFF_S * 2^retries s.

        The backoff is read here, at each retry: autoretry would read `retry_backoff` once.
        """
        redact_exception(exc)
        if countdown is None:
            countdown = get_exponential_backoff_interval(
                factor=settings.MAINTENANCE_RETRY_BACKOFF_S,
                retries=self.request.retries,
                maximum=self.retry_backoff_max,
                full_jitter=self.retry_jitter,
            )
        return super().retry(*args, exc=exc, countdown=countdown, **options)


@shared_task(
    base=MaintenanceTask,
    name="clean_generated_media",
    soft_time_limit=50 * 60,
    time_limit=55 * 60,
)
def clean_generated_media(dry_run: bool = False) -> dict:
    """Delete generated media older than GENERATED_MEDIA_MAX_AGE_DAYS."""
    now = timezone.now()
    with recorded_run("clean_generated_media", dry_run=dry_run, started_at=now) as run:
        run.summary = delete_old_media(
            now=now, dry_run=dry_run, progress=task_progress(), **media_settings()
        )
    return run.as_dict()


@shared_task(
    base=MaintenanceTask,
    name="clean_blacklisted_tokens",
    soft_time_limit=25 * 60,
    time_limit=30 * 60,
)
def clean_blacklisted_tokens(dry_run: bool = False) -> dict:
    """Delete blacklist and outstanding rows of JWTs expired beyond the safety margin."""
    now = timezone.now()
    with recorded_run("clean_blacklisted_tokens", dry_run=dry_run, started_at=now) as run:
        run.summary = delete_expired_tokens(
            now=now,
            margin=timedelta(days=settings.TOKEN_CLEANUP_SAFETY_MARGIN_DAYS),
            batch_size=settings.TOKEN_CLEANUP_BATCH_SIZE,
            dry_run=dry_run,
            # At the soft time limit: keep the committed batches, report a partial summary.
            interrupted_by=(SoftTimeLimitExceeded,),
            progress=task_progress(),
        )
    return run.as_dict()


def media_settings() -> dict:
    """The GENERATED_MEDIA_* settings as delete_old_media's arguments (task and command alike)."""
    return {
        "root": settings.GENERATED_MEDIA_ROOT,
        "max_age": timedelta(days=settings.GENERATED_MEDIA_MAX_AGE_DAYS),
        "keep": settings.GENERATED_MEDIA_KEEP,
        "protected": protected_paths(settings.DATABASES, settings.LOG_DIR),
    }


def protected_paths(databases: dict, log_dir: Path) -> list[tuple[str, str]]:
    """What a media root must never contain: the SQLite databases and the log folder."""
    found = [
        ("the SQLite database", os.path.realpath(db["NAME"]))
        for db in databases.values()
        if "sqlite" in db["ENGINE"] and str(db["NAME"]) not in ("", ":memory:")
    ]
    return [*found, ("the log folder", os.path.realpath(log_dir))]
