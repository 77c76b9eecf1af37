from maintenance.management.commands._summary import CleanupCommand
from maintenance.runs import run_media_cleanup


class Command(CleanupCommand):
    help = "Delete files in GENERATED_MEDIA_ROOT older than GENERATED_MEDIA_MAX_AGE_DAYS."
    run = staticmethod(run_media_cleanup)
