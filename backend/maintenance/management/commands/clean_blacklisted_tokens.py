from maintenance.management.commands._summary import CleanupCommand
from maintenance.runs import run_token_cleanup


class Command(CleanupCommand):
    help = "Delete blacklisted and outstanding JWTs expired beyond the safety margin."
    run = staticmethod(run_token_cleanup)
