"""Celery tasks: thin, explicitly named interfaces over the plain functions.

Each task calls one run in `maintenance.runs` (which reads the settings and the clock)
and returns that run's summary as a JSON-serializable dict. While it runs, it reports its
counts so far as the PROGRESS state, about once a second (`maintenance.progress`).

Delivery: both cleanups are idempotent (a second run, or a run after a crash, ends in
the state of one clean run), so a message is acknowledged only after the task ends
(`acks_late`) and is redelivered when the worker process running it dies
(`reject_on_worker_lost`). A database error (the database restarting, a dropped
connection) is retried with exponential backoff, a bounded number of times.
"""

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from maintenance import runs
from maintenance.progress import task_progress
from maintenance.redaction import redact_exception


class RedactedTask(Task):
    """A task whose exceptions carry no JWT, whether it fails or is retried.

    Celery stores the exception's type and message and the traceback text in the result
    backend and sends them to Flower; `retry` redacts the exception autoretry hands it.
    """

    def __call__(self, *args: object, **kwargs: object) -> object:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            redact_exception(exc)
            raise

    def retry(
        self,
        args: object = None,
        kwargs: object = None,
        exc: BaseException | None = None,
        *more: object,
        **options: object,
    ) -> object:
        redact_exception(exc)
        return super().retry(args, kwargs, exc, *more, **options)


RELIABLE = {
    "base": RedactedTask,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "max_retries": 3,
    # MAINTENANCE_RETRY_BACKOFF_S (default 5): retries after up to 5, 10, 20 s (full
    # jitter). 0 retries at once: with no backoff Celery would fall back to
    # default_retry_delay (3 minutes), so that is set from the same value.
    "retry_backoff": settings.MAINTENANCE_RETRY_BACKOFF_S,
    "default_retry_delay": settings.MAINTENANCE_RETRY_BACKOFF_S,
    "retry_backoff_max": 300,
    "retry_jitter": True,
}

# Time limits (seconds). At the soft limit the token cleanup stops between batches and
# returns a partial summary ("completed": false); the hard limit kills the process.
MEDIA_SOFT_TIME_LIMIT_S = 50 * 60
MEDIA_TIME_LIMIT_S = 55 * 60
TOKENS_SOFT_TIME_LIMIT_S = 25 * 60
TOKENS_TIME_LIMIT_S = 30 * 60


@shared_task(
    name="clean_generated_media",
    soft_time_limit=MEDIA_SOFT_TIME_LIMIT_S,
    time_limit=MEDIA_TIME_LIMIT_S,
    **RELIABLE,
)
def clean_generated_media(dry_run: bool = False) -> dict:
    """Delete generated media older than GENERATED_MEDIA_MAX_AGE_DAYS."""
    return runs.run_media_cleanup(dry_run=dry_run, progress=task_progress()).as_dict()


@shared_task(
    name="clean_blacklisted_tokens",
    soft_time_limit=TOKENS_SOFT_TIME_LIMIT_S,
    time_limit=TOKENS_TIME_LIMIT_S,
    **RELIABLE,
)
def clean_blacklisted_tokens(dry_run: bool = False) -> dict:
    """Delete blacklist and outstanding rows of JWTs expired beyond the safety margin."""
    return runs.run_token_cleanup(dry_run=dry_run, progress=task_progress()).as_dict()
