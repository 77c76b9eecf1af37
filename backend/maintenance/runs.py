"""One run of each cleanup, configured from settings at the current time.

The task and the management command both start runs through here, so they share the
settings they read and the clock they take "now" from.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from maintenance.media import MediaCleanupSummary, delete_old_media
from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens


def run_media_cleanup(*, dry_run: bool) -> MediaCleanupSummary:
    """Clean GENERATED_MEDIA_ROOT as configured, at the current time."""
    return delete_old_media(
        root=settings.GENERATED_MEDIA_ROOT,
        now=timezone.now(),
        max_age=timedelta(days=settings.GENERATED_MEDIA_MAX_AGE_DAYS),
        keep=settings.GENERATED_MEDIA_KEEP,
        dry_run=dry_run,
    )


def run_token_cleanup(*, dry_run: bool) -> TokenCleanupSummary:
    """Clean the token blacklist tables as configured, at the current time."""
    return delete_expired_tokens(
        now=timezone.now(),
        margin=timedelta(days=settings.TOKEN_CLEANUP_SAFETY_MARGIN_DAYS),
        batch_size=settings.TOKEN_CLEANUP_BATCH_SIZE,
        dry_run=dry_run,
    )
