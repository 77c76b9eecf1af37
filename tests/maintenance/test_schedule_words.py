"""Schedules in words, English and Russian, as cron-descriptor writes them."""

from datetime import timedelta

import pytest
from celery.schedules import crontab, schedule

from maintenance.schedule_words import describe_schedule
from tests.maintenance.test_schedules import EveryOtherRun


@pytest.mark.parametrize(
    ("entry_schedule", "english", "russian"),
    [
        (
            crontab(minute=0, hour=3, day_of_week="sun"),  # the weekly media run
            "At 03:00, only on Sunday (UTC, cron: 0 3 * * 0)",
            "В 03:00, только в воскресенье (UTC, cron: 0 3 * * 0)",
        ),
        (
            crontab(minute=0, hour=2),  # the daily token run
            "At 02:00 (UTC, cron: 0 2 * * *)",
            "В 02:00 (UTC, cron: 0 2 * * *)",
        ),
        (
            crontab(minute=30, hour="1,13", day_of_week="wed,fri"),
            "At 01:30 and 13:30, only on Wednesday and Friday (UTC, cron: 30 1,13 * * 3,5)",
            "В 01:30 и 13:30, только в среду и пятницу (UTC, cron: 30 1,13 * * 3,5)",
        ),
        (
            crontab(minute=0, hour=4, day_of_month=1, month_of_year="1,5"),
            "At 04:00, on day 1 of the month, only in January and May (UTC, cron: 0 4 1 1,5 *)",
            "В 04:00, в 1 число месяца, только в январе и мае (UTC, cron: 0 4 1 1,5 *)",
        ),
        (crontab(), "Every minute (UTC, cron: * * * * *)", "Каждую минуту (UTC, cron: * * * * *)"),
    ],
    ids=["weekly", "daily", "two-days-two-times", "months", "cron"],
)
def test_a_crontab_is_described_in_both_languages(
    entry_schedule: crontab, english: str, russian: str
) -> None:
    assert describe_schedule(entry_schedule) == english
    assert describe_schedule(entry_schedule, "ru") == russian


@pytest.mark.parametrize(
    ("entry_schedule", "english", "russian"),
    [
        (schedule(timedelta(hours=5)), "every 18000 s", "каждые 18000 с"),
        (3600, "every 3600 s", "каждые 3600 с"),
        (timedelta(minutes=1, seconds=30), "every 90 s", "каждые 90 с"),
        (EveryOtherRun(timedelta(hours=1)), "<every other run>", "<every other run>"),
    ],
    ids=["interval", "seconds", "timedelta", "own-schedule-class"],
)
def test_a_schedule_that_is_no_crontab_is_described_as_its_interval_or_repr(
    entry_schedule: schedule | float | timedelta, english: str, russian: str
) -> None:
    assert describe_schedule(entry_schedule) == english
    assert describe_schedule(entry_schedule, "ru") == russian
