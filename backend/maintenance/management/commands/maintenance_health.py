"""`manage.py maintenance_health`: exit 1 when any beat task is stale (a fresh one is pending)."""

import json as jsonlib

from django.core.management.base import BaseCommand, CommandError, CommandParser

from maintenance.health_checks import current_report
from maintenance.health_report import MISCONFIGURED, PENDING, STALE


class Command(BaseCommand):
    help = (
        "Show each beat task's last successful run, next due time and "
        "OK/PENDING/STALE/MISCONFIGURED; exit 1 when any task is stale or misconfigured."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: object, json: bool, **options: object) -> None:
        report = current_report()
        if json:
            self.stdout.write(jsonlib.dumps(report.as_dict()))
        else:
            rows = [("task", "last success", "next due", "status")] + [
                (
                    report.label(task),
                    task.last_success.isoformat() if task.last_success else "never",
                    task.next_due.isoformat(),
                    task.status,
                )
                for task in report.tasks
            ]
            widths = [max(len(row[i]) for row in rows) for i in range(4)]
            for row in rows:
                self.stdout.write(
                    "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                )
            for task in report.tasks:
                if task.status == PENDING:
                    self.stdout.write(f"{report.label(task)}: {task.reason}")
        if not report.healthy:
            wrong = [t for t in report.tasks if t.status == MISCONFIGURED]
            if wrong:
                reasons = "; ".join(f"{report.label(t)}: {t.reason}" for t in wrong)
                raise CommandError(
                    f"periodic maintenance is misconfigured: {reasons}", returncode=1
                )
            stale = ", ".join(report.label(task) for task in report.tasks if task.status == STALE)
            raise CommandError(f"periodic maintenance is stale: {stale}", returncode=1)
