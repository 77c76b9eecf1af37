"""Shared shell of the cleanup commands: `--dry-run`, `--json`, a live progress line, one
summary out, and the exit statuses of docs/periodic-tasks.md, "Management commands"."""

import json as jsonlib
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from maintenance.management.commands._signals import stop_on_signals
from maintenance.progress import TerminalLine, Throttled
from maintenance.recording import RecordedRun

NOT_RECORDED_EXIT = 3


class CleanupCommand(BaseCommand):
    """A management command that runs one cleanup and prints its summary."""

    # Defined by each command: reads its settings and `now`, calls its cleanup inside
    # `recorded_run` and returns the run; keyword arguments `dry_run`, `should_stop`, `progress`.
    run: Callable[..., RecordedRun]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Delete nothing; report what would go."
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the summary as one JSON object."
        )

    def handle(self, *args: object, dry_run: bool, json: bool, **options: object) -> None:
        task = self.__module__.rsplit(".", 1)[-1]
        # A live progress line only for a person at a terminal: not into a pipe or a file,
        # and not with --json (a program reads that). Written to the stream under Django's
        # OutputWrapper, whose write() would end every redraw with a newline.
        line = None if json or not self.stdout.isatty() else TerminalLine(self.stdout._out)
        with stop_on_signals() as stop:  # until the summary is out: a late signal is no traceback
            try:
                summary = self.run(
                    dry_run=dry_run,
                    should_stop=stop.requested,
                    progress=line and Throttled(line),
                ).as_dict()
            except DatabaseError as error:  # one clear line and a non-zero exit, not a traceback
                detail = " ".join(str(error).split()) or type(error).__name__
                raise CommandError(f"{task} failed: database error: {detail}") from error
            finally:
                if line is not None:
                    line.close()  # the line is cleared: only the summary stays on the screen
            if json:
                self.stdout.write(jsonlib.dumps(summary, ensure_ascii=False))
            else:
                width = max(map(len, summary))
                for key, value in summary.items():
                    self.stdout.write(f"{key:<{width}}  {value}")
        if stop.received is not None and not summary["completed"]:
            record = "recorded as partial" if summary["recorded"] else "not recorded"
            raise CommandError(
                f"{task} interrupted by {stop.received.name}: stopped early, the work done "
                f"so far stays; the run is {record}",
                returncode=128 + stop.received,
            )
        if not summary["recorded"]:
            raise SystemExit(NOT_RECORDED_EXIT)  # the history's WARNING line said why
