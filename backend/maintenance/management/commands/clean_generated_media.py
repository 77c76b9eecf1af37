"""`manage.py clean_generated_media`: the media cleanup as configured, run now."""

from collections.abc import Callable

from django.core.management.base import CommandError
from django.utils import timezone

from maintenance.management.commands._summary import CleanupCommand
from maintenance.media import MediaCleanupSummary, MediaRootError, delete_old_media
from maintenance.recording import RecordedRun, recorded_run
from maintenance.tasks import media_settings


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
                    now=now,
                    dry_run=dry_run,
                    should_stop=should_stop,
                    progress=progress,
                    **media_settings(),
                )
        except MediaRootError as error:  # a root that cannot be cleaned at all: one clear line
            raise CommandError(f"clean_generated_media failed: {error}") from error
        return run
