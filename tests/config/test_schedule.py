"""The beat schedule at its edges: is-due / is-not-due pairs at literal instants.

Modelled on Celery's own `t/unit/app/test_schedules.py`: each row names the entry, its
last run, the frozen "now", and what `crontab.is_due` must answer: whether it is due
and how many seconds remain until it should be checked again (the next fire time).
"now" comes from freezegun through the project's own schedule objects, untouched.
"""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from freezegun import freeze_time

from config.celery import BEAT_CRON_STARTING_DEADLINE_S, BEAT_EXPIRES_S, app

WEEKLY = "clean-generated-media-weekly"
DAILY = "clean-blacklisted-tokens-daily"
WEEK_S = 7 * 86400.0
DAY_S = 86400.0
README = Path(__file__).resolve().parents[2] / "README.md"


def is_due(entry: str, *, last_run_at: datetime, now: datetime) -> tuple[bool, float]:
    """The project's schedule for `entry`, asked at the frozen instant `now`."""
    schedule = app.conf.beat_schedule[entry]["schedule"]
    with freeze_time(now):
        due, remaining_s = schedule.is_due(last_run_at)
    return due, remaining_s


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def pairs(entry: str, rows: list[tuple]) -> list:
    """Rows of (id, last run, now, due, seconds to the next check) as params for `entry`."""
    prefix = "weekly" if entry == WEEKLY else "daily"
    return [pytest.param(entry, *row[1:], id=f"{prefix}-{row[0]}") for row in rows]


# fmt: off
# Weekly: Sunday 03:00 UTC. The week before 2026-03-01 is 2026-02-22: a month end.
WEEKLY_PAIRS = [
    ("sun-02:59:59-not-due", utc(2026, 2, 22, 3), utc(2026, 3, 1, 2, 59, 59), False, 1.0),
    ("sun-03:00:00-due", utc(2026, 2, 22, 3), utc(2026, 3, 1, 3, 0, 0), True, WEEK_S),
    ("sun-03:00:01-after-run", utc(2026, 3, 1, 3), utc(2026, 3, 1, 3, 0, 1), False, WEEK_S - 1),
    ("sun-03:00:00-already-run", utc(2026, 3, 1, 3), utc(2026, 3, 1, 3, 0, 0), False, WEEK_S),
    ("sat-03:00:00-not-due", utc(2026, 2, 22, 3), utc(2026, 2, 28, 3, 0, 0), False, DAY_S),
    ("sun-02:00:00-not-due", utc(2026, 2, 22, 3), utc(2026, 3, 1, 2, 0, 0), False, 3600.0),
    ("mon-03:00:00-not-due", utc(2026, 3, 1, 3), utc(2026, 3, 2, 3, 0, 0), False, 6 * DAY_S),
    ("may-jun-02:59:59-not-due", utc(2026, 5, 31, 3), utc(2026, 6, 7, 2, 59, 59), False, 1.0),
    ("may-jun-03:00:00-due", utc(2026, 5, 31, 3), utc(2026, 6, 7, 3, 0, 0), True, WEEK_S),
    ("year-end-02:59:59-not-due", utc(2026, 12, 27, 3), utc(2027, 1, 3, 2, 59, 59), False, 1.0),
    ("year-end-03:00:00-due", utc(2026, 12, 27, 3), utc(2027, 1, 3, 3, 0, 0), True, WEEK_S),
    # The week across the leap day 2028-02-29 (a Tuesday) is still 604800 s.
    ("leap-02:59:59-not-due", utc(2028, 2, 27, 3), utc(2028, 3, 5, 2, 59, 59), False, 1.0),
    ("leap-03:00:00-due", utc(2028, 2, 27, 3), utc(2028, 3, 5, 3, 0, 0), True, WEEK_S),
]

# Daily: 02:00 UTC, from 2026-02-28 across the February month end (not a leap year).
DAILY_PAIRS = [
    ("01:59:59-not-due", utc(2026, 2, 28, 2), utc(2026, 3, 1, 1, 59, 59), False, 1.0),
    ("02:00:00-due", utc(2026, 2, 28, 2), utc(2026, 3, 1, 2, 0, 0), True, DAY_S),
    ("02:00:01-after-run", utc(2026, 3, 1, 2), utc(2026, 3, 1, 2, 0, 1), False, DAY_S - 1),
    ("02:00:00-already-run", utc(2026, 3, 1, 2), utc(2026, 3, 1, 2, 0, 0), False, DAY_S),
    ("03:00:00-not-due", utc(2026, 3, 1, 2), utc(2026, 3, 1, 3, 0, 0), False, 23 * 3600.0),
    ("jan-feb-01:59:59-not-due", utc(2026, 1, 31, 2), utc(2026, 2, 1, 1, 59, 59), False, 1.0),
    ("jan-feb-02:00:00-due", utc(2026, 1, 31, 2), utc(2026, 2, 1, 2, 0, 0), True, DAY_S),
    ("year-end-01:59:59-not-due", utc(2026, 12, 31, 2), utc(2027, 1, 1, 1, 59, 59), False, 1.0),
    ("year-end-02:00:00-due", utc(2026, 12, 31, 2), utc(2027, 1, 1, 2, 0, 0), True, DAY_S),
    ("leap-day-01:59:59-not-due", utc(2028, 2, 28, 2), utc(2028, 2, 29, 1, 59, 59), False, 1.0),
    ("leap-day-02:00:00-due", utc(2028, 2, 28, 2), utc(2028, 2, 29, 2, 0, 0), True, DAY_S),
    ("after-leap-01:59:59-not-due", utc(2028, 2, 29, 2), utc(2028, 3, 1, 1, 59, 59), False, 1.0),
    ("after-leap-02:00:00-due", utc(2028, 2, 29, 2), utc(2028, 3, 1, 2, 0, 0), True, DAY_S),
]

# The 2026 European clock changes fall on Sundays, at 01:00 UTC: both runs of those days
# come after the change and still at 02:00 and 03:00 UTC, a whole 86400 s / 604800 s
# after the run before (a schedule in local time would be an hour off).
DST_DAILY_PAIRS = [
    ("spring-01:59:59-not-due", utc(2026, 3, 28, 2), utc(2026, 3, 29, 1, 59, 59), False, 1.0),
    ("spring-02:00:00-due", utc(2026, 3, 28, 2), utc(2026, 3, 29, 2, 0, 0), True, DAY_S),
    ("autumn-01:59:59-not-due", utc(2026, 10, 24, 2), utc(2026, 10, 25, 1, 59, 59), False, 1.0),
    ("autumn-02:00:00-due", utc(2026, 10, 24, 2), utc(2026, 10, 25, 2, 0, 0), True, DAY_S),
]
DST_WEEKLY_PAIRS = [
    ("spring-02:59:59-not-due", utc(2026, 3, 22, 3), utc(2026, 3, 29, 2, 59, 59), False, 1.0),
    ("spring-03:00:00-due", utc(2026, 3, 22, 3), utc(2026, 3, 29, 3, 0, 0), True, WEEK_S),
    ("autumn-02:59:59-not-due", utc(2026, 10, 18, 3), utc(2026, 10, 25, 2, 59, 59), False, 1.0),
    ("autumn-03:00:00-due", utc(2026, 10, 18, 3), utc(2026, 10, 25, 3, 0, 0), True, WEEK_S),
]

# Beat was down over a fire time and its persistent schedule still holds the old last
# run. Due at once up to BEAT_CRON_STARTING_DEADLINE_S (6 h, inclusive) after the missed
# fire time, and only once however many periods were missed; a second later it waits.
TO_NEXT = 6 * DAY_S + 18 * 3600  # from Sunday 09:00 to the next Sunday 03:00
MISSED_WEEKLY_PAIRS = [
    ("back-6h-late-due", utc(2026, 3, 1, 3), utc(2026, 3, 8, 9, 0, 0), True, TO_NEXT),
    ("back-6h-1s-late-waits", utc(2026, 3, 1, 3), utc(2026, 3, 8, 9, 0, 1), False, TO_NEXT - 1),
    ("5-weeks-missed-due-once", utc(2026, 2, 1, 3), utc(2026, 3, 8, 8, 59, 59), True, TO_NEXT + 1),
    ("5-weeks-missed-wed-waits", utc(2026, 2, 1, 3), utc(2026, 3, 11, 12), False, 3.625 * DAY_S),
]
MISSED_DAILY_PAIRS = [
    ("back-6h-late-due", utc(2026, 3, 5, 2), utc(2026, 3, 7, 8, 0, 0), True, 18 * 3600.0),
    ("back-6h-1s-late-waits", utc(2026, 3, 5, 2), utc(2026, 3, 7, 8, 0, 1), False, 18 * 3600.0 - 1),
]
# fmt: on

SIGNATURE = ("entry", "last_run_at", "now", "due", "remaining_s")
BOUNDARY_PAIRS = pairs(WEEKLY, WEEKLY_PAIRS) + pairs(DAILY, DAILY_PAIRS)
DST_PAIRS = pairs(WEEKLY, DST_WEEKLY_PAIRS) + pairs(DAILY, DST_DAILY_PAIRS)
MISSED_RUN_PAIRS = pairs(WEEKLY, MISSED_WEEKLY_PAIRS) + pairs(DAILY, MISSED_DAILY_PAIRS)


@pytest.mark.parametrize(SIGNATURE, BOUNDARY_PAIRS)
def test_entry_is_due_exactly_at_its_utc_fire_time_and_not_a_second_before(
    entry: str, last_run_at: datetime, now: datetime, due: bool, remaining_s: float
) -> None:
    assert is_due(entry, last_run_at=last_run_at, now=now) == (due, remaining_s)


@pytest.mark.parametrize("process_tz", ["UTC", "Europe/Berlin"], indirect=True)
@pytest.mark.parametrize(SIGNATURE, DST_PAIRS)
def test_fire_times_stay_at_utc_across_the_2026_european_clock_changes(
    process_tz: str, entry: str, last_run_at: datetime, now: datetime, due: bool, remaining_s: float
) -> None:
    assert is_due(entry, last_run_at=last_run_at, now=now) == (due, remaining_s)


@pytest.mark.parametrize(SIGNATURE, MISSED_RUN_PAIRS)
def test_missed_run_is_due_at_once_only_within_the_starting_deadline(
    entry: str, last_run_at: datetime, now: datetime, due: bool, remaining_s: float
) -> None:
    assert is_due(entry, last_run_at=last_run_at, now=now) == (due, remaining_s)


def test_starting_deadline_is_six_hours_like_the_message_expiry() -> None:
    assert app.conf.beat_cron_starting_deadline == BEAT_CRON_STARTING_DEADLINE_S == 6 * 3600
    assert BEAT_CRON_STARTING_DEADLINE_S == BEAT_EXPIRES_S


@pytest.mark.parametrize("process_tz", ["Asia/Tokyo", "Europe/Moscow"], indirect=True)
def test_schedule_clock_reads_the_utc_instant_whatever_the_process_time_zone(
    process_tz: str,
) -> None:
    """On the real clock (no freezegun, which would hide a naive local `now`)."""
    for entry in (WEEKLY, DAILY):
        schedule = app.conf.beat_schedule[entry]["schedule"]
        before = datetime.now(UTC)
        seen = schedule.maybe_make_aware(schedule.now())
        after = datetime.now(UTC)
        assert before <= seen <= after, (entry, seen)
        assert seen.utcoffset().total_seconds() == 0, (entry, seen.tzinfo)


# --- Registration --------------------------------------------------------------

BEAT_ENTRIES = {
    "clean-generated-media-weekly": "clean_generated_media",
    "clean-blacklisted-tokens-daily": "clean_blacklisted_tokens",
}


def test_beat_entry_names_are_stable() -> None:
    """Renaming an entry orphans its last run in every deployed celerybeat-schedule file."""
    names = {name: entry["task"] for name, entry in app.conf.beat_schedule.items()}
    assert names == BEAT_ENTRIES


def test_every_beat_entry_names_a_registered_task() -> None:
    app.loader.import_default_modules()
    unregistered = {e["task"] for e in app.conf.beat_schedule.values()} - set(app.tasks)
    assert unregistered == set()


def test_every_maintenance_task_has_a_beat_entry() -> None:
    app.loader.import_default_modules()
    maintenance_tasks = {
        name for name, task in app.tasks.items() if task.__module__.startswith("maintenance.")
    }
    assert maintenance_tasks == set(BEAT_ENTRIES.values())
    assert maintenance_tasks == {e["task"] for e in app.conf.beat_schedule.values()}


def test_every_beat_entry_carries_its_expiry() -> None:
    for name, entry in app.conf.beat_schedule.items():
        assert entry["options"] == {"expires": BEAT_EXPIRES_S}, name


def test_readme_documents_every_beat_entry_and_the_missed_run_rule() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Schedule\n(.*?)^## ", text, flags=re.DOTALL | re.MULTILINE)
    assert match, "README.md has no '## Schedule' section followed by another section"
    section = match.group(1)
    for name, task in BEAT_ENTRIES.items():
        assert f"`{name}`" in section, name
        assert f"`{task}`" in section, task
    assert "Sunday at 03:00 UTC" in section
    assert "day at 02:00 UTC" in section
    assert "beat_cron_starting_deadline" in section
