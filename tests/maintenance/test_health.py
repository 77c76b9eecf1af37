"""Health: last success per beat entry, next due time, and OK/STALE at literal datetimes."""

from datetime import UTC, datetime, timedelta

import pytest
from celery.schedules import crontab
from django.utils import timezone
from freezegun import freeze_time

from config.celery import app
from maintenance.health import maintenance_health
from maintenance.tasks import clean_blacklisted_tokens, clean_generated_media
from tests.clock import MEDIA_NOW
from tests.factories import record_success

NOW = MEDIA_NOW  # a Sunday, at the weekly fire time
WEEKLY = crontab(minute=0, hour=3, day_of_week="sun")
DAILY = crontab(minute=0, hour=2)


def _statuses(now: datetime) -> dict[str, str]:
    report = maintenance_health(now=now, beat_schedule=app.conf.beat_schedule)
    return {task.task: task.status for task in report.tasks}


# --- the story: stale, OK after both ran, stale again a week later ----------------------


@pytest.mark.django_db
def test_every_task_is_stale_before_any_run() -> None:
    report = maintenance_health(now=NOW, beat_schedule=app.conf.beat_schedule)
    assert not report.healthy
    assert [task.as_dict() for task in report.tasks] == [
        {
            "entry": "clean-generated-media-weekly",
            "task": "clean_generated_media",
            "status": "STALE",
            "reason": "never succeeded since the system started",
            "last_success": None,
            "next_due": "2026-03-08T03:00:00+00:00",
            "stale_after": None,
            "max_age_s": (7 * 24 + 6) * 3600,
        },
        {
            "entry": "clean-blacklisted-tokens-daily",
            "task": "clean_blacklisted_tokens",
            "status": "STALE",
            "reason": "never succeeded since the system started",
            "last_success": None,
            "next_due": "2026-03-02T02:00:00+00:00",
            "stale_after": None,
            "max_age_s": (24 + 6) * 3600,
        },
    ]


@pytest.mark.django_db
@pytest.mark.eager
@pytest.mark.usefixtures("eager")
def test_ok_after_both_tasks_ran_and_stale_again_eight_days_later() -> None:
    with freeze_time(NOW):
        clean_generated_media.delay().get()
        clean_blacklisted_tokens.delay().get()
        report = maintenance_health(now=timezone.now(), beat_schedule=app.conf.beat_schedule)
    assert report.healthy
    assert {task.task: (task.status, task.last_success) for task in report.tasks} == {
        "clean_generated_media": ("OK", NOW),
        "clean_blacklisted_tokens": ("OK", NOW),
    }
    with freeze_time(NOW + timedelta(days=8)):
        later = maintenance_health(now=timezone.now(), beat_schedule=app.conf.beat_schedule)
    assert not later.healthy
    assert {task.task: (task.status, task.last_success) for task in later.tasks} == {
        "clean_generated_media": ("STALE", NOW),
        "clean_blacklisted_tokens": ("STALE", NOW),
    }


# --- the threshold: period + 6 h, strictly --------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("task", "checked_at", "status"),
    [
        ("clean_generated_media", datetime(2026, 3, 8, 9, 0, 0, tzinfo=UTC), "OK"),
        ("clean_generated_media", datetime(2026, 3, 8, 9, 0, 1, tzinfo=UTC), "STALE"),
        ("clean_blacklisted_tokens", datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC), "OK"),
        ("clean_blacklisted_tokens", datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC), "STALE"),
    ],
    ids=["weekly-exactly-7d6h", "weekly-7d6h-and-1s", "daily-exactly-1d6h", "daily-1d6h-and-1s"],
)
def test_a_task_goes_stale_strictly_after_its_period_plus_six_hours(
    task: str, checked_at: datetime, status: str
) -> None:
    record_success(task, NOW)
    assert _statuses(checked_at)[task] == status


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"dry_run": True},
        {"summary": {"completed": False}},
        {"summary": None, "error": "OSError: [Errno 28] No space left on device"},
    ],
    ids=["dry-run", "partial", "failed"],
)
def test_only_a_real_complete_run_counts_as_arecord_success(fields: dict) -> None:
    record_success("clean_blacklisted_tokens", NOW, **dict(fields))
    assert _statuses(NOW + timedelta(hours=1))["clean_blacklisted_tokens"] == "STALE"


@pytest.mark.django_db
def test_the_latest_success_counts_not_the_first() -> None:
    record_success("clean_blacklisted_tokens", datetime(2026, 2, 20, 2, 0, 0, tzinfo=UTC))
    record_success("clean_blacklisted_tokens", datetime(2026, 3, 1, 2, 0, 5, tzinfo=UTC))
    report = maintenance_health(now=NOW, beat_schedule=app.conf.beat_schedule)
    tokens = next(task for task in report.tasks if task.task == "clean_blacklisted_tokens")
    assert tokens.last_success == datetime(2026, 3, 1, 2, 0, 5, tzinfo=UTC)
    assert tokens.stale_after == datetime(2026, 3, 2, 8, 0, 5, tzinfo=UTC)
    assert tokens.status == "OK"


@pytest.mark.django_db
def test_the_threshold_follows_the_beat_entry_not_a_constant() -> None:
    every_15_min = {"x": {"task": "clean_blacklisted_tokens", "schedule": crontab(minute="*/15")}}
    record_success("clean_blacklisted_tokens", NOW)
    fresh = maintenance_health(now=NOW + timedelta(hours=6, minutes=15), beat_schedule=every_15_min)
    late = maintenance_health(
        now=NOW + timedelta(hours=6, minutes=15, seconds=1), beat_schedule=every_15_min
    )
    assert (fresh.healthy, late.healthy) == (True, False)
    assert fresh.tasks[0].max_age == timedelta(hours=6, minutes=15)


# --- entries given as Celery also accepts them: seconds or a timedelta ----------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "every_15_min", [900, 900.0, timedelta(minutes=15)], ids=["int-s", "float-s", "timedelta"]
)
def test_an_entry_in_seconds_or_as_a_timedelta_is_judged_like_the_interval_it_means(
    every_15_min: float | timedelta,
) -> None:
    beat_schedule = {"x": {"task": "clean_blacklisted_tokens", "schedule": every_15_min}}
    record_success("clean_blacklisted_tokens", NOW)
    fresh = maintenance_health(
        now=NOW + timedelta(hours=6, minutes=15), beat_schedule=beat_schedule
    )
    late = maintenance_health(
        now=NOW + timedelta(hours=6, minutes=15, seconds=1), beat_schedule=beat_schedule
    )
    assert (fresh.healthy, late.healthy) == (True, False)
    assert fresh.tasks[0].max_age == timedelta(hours=6, minutes=15)
    assert fresh.tasks[0].next_due == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert beat_schedule["x"]["schedule"] == every_15_min  # the entry is read, not rewritten
