"""`manage.py clean_blacklisted_tokens`: the token cleanup as configured, run now."""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from maintenance.management.commands._summary import CleanupCommand
from maintenance.recording import RecordedRun, recorded_run
from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens


class Command(CleanupCommand):
    help = "Delete blacklisted and outstanding JWTs expired beyond the safety margin."

    def run(
        self,
        *,
        dry_run: bool,
        should_stop: Callable[[], bool],
        progress: Callable[[TokenCleanupSummary], None] | None,
    ) -> RecordedRun:
        now = timezone.now()
        with recorded_run(
            "clean_blacklisted_tokens", dry_run=dry_run, started_at=now, stop_reason="interrupted"
        ) as run:
            run.summary = delete_expired_tokens(
                now=now,
                margin=timedelta(days=settings.TOKEN_CLEANUP_SAFETY_MARGIN_DAYS),
                batch_size=settings.TOKEN_CLEANUP_BATCH_SIZE,
                dry_run=dry_run,
                should_stop=should_stop,
                progress=progress,
            )
        return run
