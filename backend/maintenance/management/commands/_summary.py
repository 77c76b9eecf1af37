"""Shared shell for the cleanup commands: `--dry-run`, `--json`, one summary out."""

import json as jsonlib
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError


class CleanupCommand(BaseCommand):
    """A management command that runs one cleanup and prints its summary."""

    run: Callable[..., object]  # set by subclasses: a function of `dry_run`

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Delete nothing; report what would go."
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the summary as one JSON object."
        )

    def handle(self, *args: object, dry_run: bool, json: bool, **options: object) -> None:
        try:
            summary = self.run(dry_run=dry_run).as_dict()
        except DatabaseError as error:  # one clear line and a non-zero exit, not a traceback
            detail = " ".join(str(error).split()) or type(error).__name__
            raise CommandError(
                f"{self.__module__.rsplit('.', 1)[-1]} failed: database error: {detail}"
            ) from error
        if json:
            self.stdout.write(jsonlib.dumps(summary, ensure_ascii=False))
        else:
            width = max(map(len, summary))
            for key, value in summary.items():
                self.stdout.write(f"{key:<{width}}  {value}")
