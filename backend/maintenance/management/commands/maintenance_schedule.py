"""`manage.py maintenance_schedule`: every beat entry in words, with its next three fire times."""

import json as jsonlib
from datetime import datetime, timedelta

from celery import current_app as app  # the project's app (config/celery.py)
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from maintenance.schedule_words import LANGUAGES, describe_schedule
from maintenance.schedules import next_fire_times

FIRES_SHOWN = 3


def _queue(entry: dict) -> str:
    """The queue beat sends the entry to: Celery's router over its options and task_routes."""
    return app.amqp.router.route(dict(entry.get("options", {})), entry["task"])["queue"].name


def _expires_in_words(expires: object) -> str:
    if expires is None:
        return "never"
    if isinstance(expires, datetime):
        return expires.isoformat()
    seconds = expires.total_seconds() if isinstance(expires, timedelta) else float(expires)
    return f"{seconds:g} s ({timedelta(seconds=seconds)} after the fire time)"


class Command(BaseCommand):
    help = (
        "List every beat entry: task, queue, schedule in words, expires, "
        "next three fire times (UTC)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON list.")
        parser.add_argument(
            "--language", choices=sorted(LANGUAGES), default="en", help="Of the schedule's words."
        )

    def handle(self, *args: object, json: bool, language: str, **options: object) -> None:
        now = timezone.now()
        entries = []
        for name, entry in app.conf.beat_schedule.items():
            expires = entry.get("options", {}).get("expires")
            entries.append(
                {
                    "entry": name,
                    "task": entry["task"],
                    "queue": _queue(entry),
                    "schedule": describe_schedule(entry["schedule"], language),
                    "expires": expires.isoformat() if isinstance(expires, datetime) else expires,
                    "expires_text": _expires_in_words(expires),
                    "next": [
                        fire.isoformat()
                        for fire in next_fire_times(entry["schedule"], after=now, count=FIRES_SHOWN)
                    ],
                }
            )
        if json:
            self.stdout.write(jsonlib.dumps(entries))
            return
        for entry in entries:
            self.stdout.write(entry["entry"])
            self.stdout.write(f"  task      {entry['task']}")
            self.stdout.write(f"  queue     {entry['queue']}")
            self.stdout.write(f"  schedule  {entry['schedule']}")
            self.stdout.write(f"  expires   {entry['expires_text']}")
            self.stdout.write(f"  next      {', '.join(entry['next'])}")
