"""Celery tasks: thin, explicitly named interfaces over the plain functions.

Each task reads its settings, takes "now" from the clock, calls one function and
returns that function's summary as a JSON-serializable dict.
"""

from celery import shared_task

from maintenance import runs


@shared_task(name="clean_generated_media")
def clean_generated_media(dry_run: bool = False) -> dict:
    """Delete generated media older than GENERATED_MEDIA_MAX_AGE_DAYS."""
    return runs.run_media_cleanup(dry_run=dry_run).as_dict()


@shared_task(name="clean_blacklisted_tokens")
def clean_blacklisted_tokens(dry_run: bool = False) -> dict:
    """Delete blacklist and outstanding rows of JWTs expired beyond the safety margin."""
    return runs.run_token_cleanup(dry_run=dry_run).as_dict()
