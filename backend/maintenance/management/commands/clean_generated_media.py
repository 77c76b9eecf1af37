from collections.abc import Callable

from django.core.management.base import CommandError

from maintenance.history import RecordedRun
from maintenance.management.commands._summary import CleanupCommand
from maintenance.media import MediaCleanupSummary, MediaRootError
from maintenance.runs import run_media_cleanup


def _run(
    *,
    dry_run: bool,
    should_stop: Callable[[], bool],
    progress: Callable[[MediaCleanupSummary], None] | None = None,
) -> RecordedRun[MediaCleanupSummary]:
    """One run as configured; a root that cannot be cleaned at all is one clear error line."""
    try:
        return run_media_cleanup(dry_run=dry_run, should_stop=should_stop, progress=progress)
    except MediaRootError as error:
        raise CommandError(f"clean_generated_media failed: {error}") from error


class Command(CleanupCommand):
    help = (
        "Delete files in GENERATED_MEDIA_ROOT older than GENERATED_MEDIA_MAX_AGE_DAYS. "
        "Exits 0 when the run completed, even if single items failed (see `errors`)."
    )
    run = staticmethod(_run)
