"""Exactly one run per beat entry and fire time, even when two beats send it.

A beat run claims its stamped (entry, fire time) with a `running` history row under a unique
constraint, which holds on every broker: docs/periodic-tasks.md, "Production layout".
"""

from dataclasses import dataclass
from datetime import datetime

from celery import current_task
from django.db import IntegrityError, transaction
from loguru import logger

from maintenance.models import MaintenanceRun

# The headers beat stamps on each message (config/beat.py), read here.
ENTRY_HEADER = "beat_entry"
FIRE_TIME_HEADER = "beat_fire_time"


@dataclass(frozen=True)
class BeatFire:
    """The beat entry and fire time a run was sent for."""

    entry: str
    fire_time: datetime


@dataclass(frozen=True)
class Duplicate:
    """The result of a copy that found its fire time already run or running."""

    task: str
    fire: BeatFire
    holder_task_id: str

    def as_dict(self) -> dict:
        return {
            "duplicate": True,
            "task": self.task,
            "beat_entry": self.fire.entry,
            "fire_time": self.fire.fire_time.isoformat(),
            "claimed_by": self.holder_task_id,
        }


def request_header(name: str) -> object:
    """Return a header of the executing task's message (call it only inside a task).

    A worker exposes message headers as request attributes; an eager `apply()` keeps them
    in `request.headers`, so both places are read.
    """
    request = current_task.request
    return getattr(request, name, None) or (request.headers or {}).get(name)


def beat_fire() -> BeatFire | None:
    """Return the entry and fire time stamped on the current message, None when unstamped."""
    entry, fire_time = request_header(ENTRY_HEADER), request_header(FIRE_TIME_HEADER)
    if not entry or not fire_time:
        return None
    try:
        return BeatFire(entry=str(entry), fire_time=datetime.fromisoformat(str(fire_time)))
    except ValueError:
        logger.warning(
            "beat fire time {!r} of {} is unreadable: not deduplicated", fire_time, entry
        )
        return None


def claim(
    fire: BeatFire, *, task: str, task_id: str, dry_run: bool, started_at: datetime
) -> MaintenanceRun | Duplicate:
    """Claim `fire` with a `running` row; return the row, or a Duplicate when it is taken."""
    row = MaintenanceRun(
        task=task,
        origin=MaintenanceRun.Origin.BEAT,
        dry_run=dry_run,
        started_at=started_at,
        finished_at=started_at,
        outcome=MaintenanceRun.Outcome.RUNNING,
        beat_entry=fire.entry,
        fire_time=fire.fire_time,
        task_id=task_id,
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            return row
    except IntegrityError:
        holder = (
            MaintenanceRun.objects.filter(beat_entry=fire.entry, fire_time=fire.fire_time)
            .exclude(outcome=MaintenanceRun.Outcome.DUPLICATE)
            .get()
        )
    if holder.task_id == task_id:  # this very message, redelivered or retried
        holder.outcome = MaintenanceRun.Outcome.RUNNING
        holder.started_at = holder.finished_at = started_at
        holder.save(update_fields=["outcome", "started_at", "finished_at"])
        return holder
    row.pk, row.outcome = None, MaintenanceRun.Outcome.DUPLICATE
    row.save(force_insert=True)
    logger.warning(
        "duplicate beat run skipped: {} {} at {} was already claimed ({}) by task {}; "
        "nothing cleaned",
        task,
        fire.entry,
        fire.fire_time.isoformat(),
        holder.outcome,
        holder.task_id,
    )
    return Duplicate(task=task, fire=fire, holder_task_id=holder.task_id)


def claim_current(
    task: str, *, dry_run: bool, started_at: datetime
) -> MaintenanceRun | Duplicate | None:
    """Claim the executing beat message's fire time; None when it carries no stamp."""
    fire = beat_fire()
    if fire is None:
        return None
    return claim(
        fire,
        task=task,
        task_id=current_task.request.id or "",
        dry_run=dry_run,
        started_at=started_at,
    )
