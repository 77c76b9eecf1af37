"""Fire times and periods of beat entries, at literal datetimes (maintenance/schedules.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from celery.schedules import crontab, schedule

from maintenance.schedules import next_fire_times, period_of
from tests.clock import MEDIA_NOW

NOW = MEDIA_NOW  # a Sunday, at the weekly fire time
WEEKLY = crontab(minute=0, hour=3, day_of_week="sun")
DAILY = crontab(minute=0, hour=2)


class EveryOtherRun(schedule):
    """A schedule class of the operator's own: its fire times are not computable here."""

    def __repr__(self) -> str:
        return "<every other run>"


@pytest.mark.parametrize(
    ("entry_schedule", "after", "expected"),
    [
        (
            WEEKLY,
            datetime(2026, 3, 1, 2, 59, 59, tzinfo=UTC),
            [datetime(2026, 3, d, 3, 0, tzinfo=UTC) for d in (1, 8, 15)],
        ),
        (
            WEEKLY,
            datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC),
            [datetime(2026, 3, d, 3, 0, tzinfo=UTC) for d in (8, 15, 22)],
        ),
        (
            DAILY,
            datetime(2026, 2, 27, 1, 59, 59, tzinfo=UTC),
            [
                datetime(2026, 2, 27, 2, 0, tzinfo=UTC),
                datetime(2026, 2, 28, 2, 0, tzinfo=UTC),
                datetime(2026, 3, 1, 2, 0, tzinfo=UTC),
            ],
        ),
        (
            DAILY,
            datetime(2026, 2, 27, 2, 0, 0, tzinfo=UTC),
            [
                datetime(2026, 2, 28, 2, 0, tzinfo=UTC),
                datetime(2026, 3, 1, 2, 0, tzinfo=UTC),
                datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
            ],
        ),
        (
            schedule(timedelta(hours=5)),
            datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC),
            [datetime(2026, 3, 1, h, 0, tzinfo=UTC) for h in (5, 10, 15)],
        ),
    ],
    ids=[
        "weekly-1s-before",
        "weekly-at-fire-time",
        "daily-1s-before-across-february",
        "daily-at-fire-time",
        "interval",
    ],
)
def test_next_fire_times_are_strictly_after_the_reference(
    entry_schedule: schedule, after: datetime, expected: list[datetime]
) -> None:
    assert next_fire_times(entry_schedule, after=after, count=3) == expected


@pytest.mark.parametrize(
    ("entry_schedule", "period"),
    [
        (WEEKLY, timedelta(days=7)),
        (DAILY, timedelta(days=1)),
        (crontab(minute="*/15"), timedelta(minutes=15)),
        (900, timedelta(minutes=15)),
        (timedelta(hours=5), timedelta(hours=5)),
    ],
    ids=["weekly", "daily", "every-15-min", "seconds", "timedelta"],
)
def test_period_is_the_gap_between_fire_times(
    entry_schedule: crontab | float | timedelta, period: timedelta
) -> None:
    assert period_of(entry_schedule, at=NOW) == period


def test_fire_times_of_a_schedule_class_of_unknown_arithmetic_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"^cannot compute fire times of <every other run>$"):
        next_fire_times(EveryOtherRun(timedelta(hours=1)), after=NOW, count=1)
    # The interval it derives from still works: only the unknown subclass is refused.
    assert next_fire_times(schedule(timedelta(hours=1)), after=NOW, count=1) == [
        datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    ]
