"""Celery's PersistentScheduler, with each message stamped with its entry and fire time.

Two beats (a second replica, a forgotten `worker --beat`) each send every run once. The
worker tells the copies apart only if it knows which fire time a message is for; the send
time cannot say it reliably (a catch-up run is sent hours after its fire time, and beats'
clocks differ by milliseconds), so beat, which decides that an entry is due, writes it down:
headers `beat_entry` and `beat_fire_time` (ISO 8601, UTC). maintenance/once.py reads them.

It also judges each entry at one reading of the clock: Celery's crontab.is_due reads it up
to five times, and past the catch-up deadline a fire time crossed between two readings is
put off a whole period (docs/periodic-tasks.md, "Configuring the schedule").
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import BaseSchedule, crontab, schedule

from maintenance.once import ENTRY_HEADER, FIRE_TIME_HEADER

# How far back a fire time is looked for: beyond any catch-up deadline in use (6 h) and a
# month's cron period, so a walk from a long-stale `last_run_at` stays short.
LOOKBACK = timedelta(days=32)


def next_fire_after(entry_schedule: schedule, moment: datetime) -> datetime | None:
    """Return the entry's first fire time strictly after `moment`, None for other kinds."""
    if isinstance(entry_schedule, crontab):
        last, delta, _now = entry_schedule.remaining_delta(moment)
        return (last + delta).astimezone(UTC)
    if type(entry_schedule) is schedule:
        return moment + entry_schedule.run_every
    return None  # solar and custom schedules: no fire time, so no stamp


def current_fire_time(
    entry_schedule: schedule, *, last_run_at: datetime, now: datetime
) -> datetime | None:
    """Return the latest fire time in (last_run_at, now], None when there is none.

    That is the fire time a due entry is being sent for: its regular slot, or for a
    catch-up run after beat was down, the most recent slot it missed.
    """
    moment = max(last_run_at, now - LOOKBACK)
    fire = None
    while (following := next_fire_after(entry_schedule, moment)) is not None and following <= now:
        fire = moment = following
    return fire


@contextmanager
def clock_read_once(entries: Iterable[ScheduleEntry]) -> Iterator[None]:
    """Within the block, each entry's schedule sees one instant as now: its clock read once."""
    schedules = {id(entry.schedule): entry.schedule for entry in entries}.values()
    saved = [(each, each.nowfun) for each in schedules if isinstance(each, BaseSchedule)]
    for each, _nowfun in saved:
        each.nowfun = _stopped_at(each.now())
    try:
        yield
    finally:
        for each, nowfun in saved:
            each.nowfun = nowfun


def _stopped_at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


class FireTimeScheduler(PersistentScheduler):
    """`celery beat`'s default scheduler; each message also says which fire time it is for."""

    def is_due(self, entry: ScheduleEntry) -> tuple[bool, float]:
        with clock_read_once([entry]):
            return super().is_due(entry)

    def populate_heap(self, *args: object, **kwargs: object) -> None:
        with clock_read_once(self.schedule.values()):
            super().populate_heap(*args, **kwargs)

    def apply_async(
        self, entry: ScheduleEntry, producer: object = None, advance: bool = True, **kwargs: object
    ) -> object:
        fire = current_fire_time(
            entry.schedule, last_run_at=entry.last_run_at, now=entry.default_now()
        )
        if fire is None:
            return super().apply_async(entry, producer, advance, **kwargs)
        if advance:
            self.reserve(entry)  # as the base class would, so the stored entry stays unstamped
        headers = {
            **entry.options.get("headers", {}),
            ENTRY_HEADER: entry.name,
            FIRE_TIME_HEADER: fire.isoformat(),
        }
        stamped = entry.__class__(**dict(entry, options={**entry.options, "headers": headers}))
        return super().apply_async(stamped, producer, False, **kwargs)
