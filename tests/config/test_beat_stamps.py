"""Beat stamps every message with its entry and the fire time it is for (config/beat.py).

The project's scheduler ticked under a frozen clock, as in test_beat.py: regular sends,
catch-up runs after beat was down, two beats on two schedule files, and the arithmetic.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from celery.schedules import BaseSchedule, crontab, schedstate, schedule
from kombu.simple import SimpleQueue

from config.beat import ENTRY_HEADER, FIRE_TIME_HEADER, current_fire_time
from config.celery import MEDIA_SCHEDULE, TOKENS_SCHEDULE, app
from tests.config.test_beat import MEDIA, OURS, TOKENS, beat_from, broker, utc

__all__ = ["broker"]  # the fixture, for this module's tests

MEDIA_ENTRY, TOKENS_ENTRY = "clean-generated-media-weekly", "clean-blacklisted-tokens-daily"


class Custom(BaseSchedule):
    """A schedule of a kind without fire times to walk (like `solar`)."""

    def is_due(self, last_run_at: object) -> schedstate:
        return schedstate(is_due=False, next=3600)


def stamps(headers: list[dict]) -> list[tuple[str, str, str]]:
    """(task, entry, fire time) of each message of our two tasks, in send order."""
    return [(h["task"], h[ENTRY_HEADER], h[FIRE_TIME_HEADER]) for h in headers if h["task"] in OURS]


def test_each_send_carries_its_entry_and_its_fire_time(broker: SimpleQueue, tmp_path: Path) -> None:
    with beat_from(utc(2026, 3, 7, 1, 59, 30), broker, tmp_path / "schedule") as beat:
        beat.run(until=utc(2026, 3, 8, 3, 0, 30))
        stored_options = beat.scheduler.schedule[MEDIA_ENTRY].options
    assert stamps(beat.headers) == [
        (TOKENS, TOKENS_ENTRY, "2026-03-07T02:00:00+00:00"),
        (TOKENS, TOKENS_ENTRY, "2026-03-08T02:00:00+00:00"),
        (MEDIA, MEDIA_ENTRY, "2026-03-08T03:00:00+00:00"),
    ]
    # The stored entries are not stamped: only the message is.
    assert "headers" not in stored_options


def test_a_catch_up_run_is_stamped_with_the_fire_time_it_missed(
    broker: SimpleQueue, tmp_path: Path
) -> None:
    schedule_file = tmp_path / "schedule"
    with beat_from(utc(2026, 3, 7, 1, 0, 0), broker, schedule_file) as beat:
        beat.run(until=utc(2026, 3, 7, 2, 30, 0))
    # Down over Sunday 02:00 and 03:00; back at 08:00, within the 6 h deadline of both.
    with beat_from(utc(2026, 3, 8, 8, 0, 0), broker, schedule_file) as beat:
        beat.run(until=utc(2026, 3, 8, 8, 0, 1))
    assert sorted(stamps(beat.headers)) == [
        (TOKENS, TOKENS_ENTRY, "2026-03-08T02:00:00+00:00"),
        (MEDIA, MEDIA_ENTRY, "2026-03-08T03:00:00+00:00"),
    ]


def test_two_beats_stamp_their_copies_of_a_run_alike(broker: SimpleQueue, tmp_path: Path) -> None:
    with beat_from(utc(2026, 3, 7, 1, 0, 0), broker, tmp_path / "first") as first:
        first.run(until=utc(2026, 3, 7, 2, 0, 5))
    with beat_from(utc(2026, 3, 7, 1, 30, 17), broker, tmp_path / "second") as second:
        second.run(until=utc(2026, 3, 7, 2, 0, 7))
    assert (
        stamps(first.headers)
        == stamps(second.headers)
        == [(TOKENS, TOKENS_ENTRY, "2026-03-07T02:00:00+00:00")]
    )


def test_a_direct_apply_async_advances_the_entry_and_stamps_the_message(
    broker: SimpleQueue, tmp_path: Path
) -> None:
    with beat_from(utc(2026, 3, 7, 1, 0, 0), broker, tmp_path / "schedule") as beat:
        beat.frozen.move_to(utc(2026, 3, 7, 2, 0, 3))
        entry = beat.scheduler.schedule[TOKENS_ENTRY]
        beat.scheduler.apply_async(entry, producer=beat.scheduler.producer)
        message = broker.get(timeout=1)
        message.ack()
        stored = beat.scheduler.schedule[TOKENS_ENTRY]
    assert message.headers[FIRE_TIME_HEADER] == "2026-03-07T02:00:00+00:00"
    assert stored.last_run_at == utc(2026, 3, 7, 2, 0, 3)
    assert stored.total_run_count == entry.total_run_count + 1
    assert "headers" not in stored.options


def test_an_entry_without_fire_times_is_sent_unstamped(
    broker: SimpleQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = {"task": TOKENS, "schedule": Custom()}
    monkeypatch.setitem(app.conf, "beat_schedule", {"custom": custom})
    with beat_from(utc(2026, 3, 7, 1, 0, 0), broker, tmp_path / "schedule") as beat:
        entry = beat.scheduler.schedule["custom"]
        beat.scheduler.apply_async(entry, producer=beat.scheduler.producer, advance=False)
        message = broker.get(timeout=1)
        message.ack()
    assert message.headers["celery_beat_task"] is True
    assert ENTRY_HEADER not in message.headers
    assert FIRE_TIME_HEADER not in message.headers


@pytest.mark.parametrize(
    ("entry_schedule", "last_run_at", "now", "fire"),
    [
        (TOKENS_SCHEDULE, utc(2026, 3, 6, 2), utc(2026, 3, 7, 2), utc(2026, 3, 7, 2)),
        (TOKENS_SCHEDULE, utc(2026, 3, 6, 2), utc(2026, 3, 7, 1, 59, 59), None),
        (TOKENS_SCHEDULE, utc(2026, 3, 1, 2), utc(2026, 3, 7, 7), utc(2026, 3, 7, 2)),
        (MEDIA_SCHEDULE, utc(2026, 3, 1, 3), utc(2026, 3, 8, 9), utc(2026, 3, 8, 3)),
        # A last run years ago: looked for only within the last 32 days.
        (MEDIA_SCHEDULE, utc(2020, 1, 1), utc(2026, 3, 8, 9), utc(2026, 3, 8, 3)),
        (
            crontab(minute="*/15"),
            utc(2026, 3, 7, 1),
            utc(2026, 3, 7, 1, 44),
            utc(2026, 3, 7, 1, 30),
        ),
        (
            schedule(timedelta(minutes=10)),
            utc(2026, 3, 7, 1, 3),
            utc(2026, 3, 7, 1, 13),
            utc(2026, 3, 7, 1, 13),
        ),
        (schedule(timedelta(minutes=10)), utc(2026, 3, 7, 1, 3), utc(2026, 3, 7, 1, 12), None),
        (Custom(), utc(2026, 3, 6), utc(2026, 3, 7, 12), None),
    ],
)
def test_the_current_fire_time_is_the_latest_one_since_the_last_run(
    entry_schedule: schedule, last_run_at, now, fire
) -> None:
    assert current_fire_time(entry_schedule, last_run_at=last_run_at, now=now) == fire
