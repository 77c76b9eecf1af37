"""When beat fires an entry: its next fire times and its period, in UTC.

Celery has no public "next N fire times" for a schedule, so this walks its own
`crontab.remaining_delta`, the arithmetic beat uses; the listing cannot drift from beat.
"""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from celery.schedules import crontab, maybe_schedule, schedule

_PERIOD_SAMPLE = 8  # fire times looked at to find the longest gap

# What a beat entry's "schedule" may be: Celery also takes seconds or a timedelta there.
EntrySchedule = schedule | timedelta | float


def as_schedule(entry_schedule: EntrySchedule) -> schedule:
    """Turn seconds or a timedelta into the `schedule` beat makes of them (celery.beat)."""
    if isinstance(entry_schedule, timedelta | int | float):
        return maybe_schedule(entry_schedule)
    return entry_schedule  # not through maybe_schedule: it would reset the entry's app


def next_fire_times(
    entry_schedule: EntrySchedule, *, after: datetime, count: int
) -> list[datetime]:
    """Return the next `count` times, strictly after `after`, at which beat fires the entry."""
    entry_schedule = as_schedule(entry_schedule)
    fires: list[datetime] = []
    at = after
    for _ in range(count):
        if isinstance(entry_schedule, crontab):
            last, delta, _now = entry_schedule.remaining_delta(at)
            at = last + delta
        elif type(entry_schedule) is schedule:
            at = at + entry_schedule.run_every
        else:
            raise TypeError(f"cannot compute fire times of {entry_schedule!r}")
        fires.append(at.astimezone(UTC))
    return fires


def period_of(entry_schedule: EntrySchedule, *, at: datetime) -> timedelta:
    """Return the longest gap between consecutive fire times of the entry after `at`."""
    fires = next_fire_times(entry_schedule, after=at, count=_PERIOD_SAMPLE)
    return max(later - earlier for earlier, later in pairwise(fires))
