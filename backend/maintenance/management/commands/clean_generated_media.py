"""`manage.py clean_generated_media`: the media cleanup as configured, run now."""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from maintenance.management.commands._summary import CleanupCommand
from maintenance.media import MediaCleanupSummary, MediaRootError, delete_old_media
from maintenance.recording import RecordedRun, recorded_run
from maintenance.tasks import protected_paths


class Command(CleanupCommand):
    help = (
        "Delete files in GENERATED_MEDIA_ROOT older than GENERATED_MEDIA_MAX_AGE_DAYS. "
        "Exits 0 when the run completed, even if single items failed (see `errors`)."
    )

    def run(
        self,
        *,
        dry_run: bool,
        should_stop: Callable[[], bool],
        progress: Callable[[MediaCleanupSummary], None] | None,
    ) -> RecordedRun:
        now = timezone.now()
        try:
            with recorded_run(
                "clean_generated_media", dry_run=dry_run, started_at=now, stop_reason="interrupted"
            ) as run:
                run.summary = delete_old_media(
                    root=settings.GENERATED_MEDIA_ROOT,
                    now=now,
                    max_age=timedelta(days=settings.GENERATED_MEDIA_MAX_AGE_DAYS),
                    keep=settings.GENERATED_MEDIA_KEEP,
                    dry_run=dry_run,
                    protected=protected_paths(settings.DATABASES, settings.LOG_DIR),
                    should_stop=should_stop,
                    progress=progress,
                )
        except MediaRootError as error:  # a root that cannot be cleaned at all: one clear line
            raise CommandError(f"clean_generated_media failed: {error}") from error
        return run
