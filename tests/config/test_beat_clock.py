"""Beat judges an entry at one reading of the clock (config/beat.py, clock_read_once).

The case it is for: beat came back after the catch-up deadline, so the entry's stored last
run is older than a fire time it skipped, and now the next fire time arrives. Beat wakes
10 ms early and judges the entry again and again until it is due; the clock below moves
10 us at each reading, from 25 us before the fire time. Celery's own crontab.is_due reads
it five times, the fire time passes between the third and the fourth, and it puts the
fire time off a day; beat must not.
"""

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from config.beat import FireTimeScheduler
from config.celery import app
from tests.config.test_beat import utc

TOKENS_ENTRY = "clean-blacklisted-tokens-daily"
FIRE = utc(2026, 3, 17, 2)  # Tuesday 02:00; Monday's was skipped, beat was back too late
LAST_RUN = utc(2026, 3, 15, 2, 0, 0)  # Sunday's run, the last one beat stored
A_DAY = timedelta(days=1).total_seconds()


def moving_clock() -> Callable[[], datetime]:
    """A clock read at FIRE - 25 us first, and 10 us later at each further reading."""
    readings = (FIRE + timedelta(microseconds=10 * n - 25) for n in range(1000))
    return lambda: next(readings)


@pytest.fixture
def scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FireTimeScheduler]:
    """The project's scheduler on a fresh file, the token entry last run on LAST_RUN and
    its schedule on a fresh moving clock (the schedule object is the app's: restored)."""
    beat = FireTimeScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
    entry = beat.schedule[TOKENS_ENTRY]
    entry.last_run_at = LAST_RUN
    monkeypatch.setattr(entry.schedule, "nowfun", moving_clock())
    try:
        yield beat
    finally:
        beat.close()


def test_celerys_own_judgement_puts_the_fire_time_off_a_day(
    scheduler: FireTimeScheduler,
) -> None:
    """Why the scheduler reads the clock itself: Celery's crontab, given this clock."""
    assert tuple(scheduler.schedule[TOKENS_ENTRY].is_due()) == (False, pytest.approx(A_DAY))


def test_a_fire_time_crossed_while_judging_is_due_at_the_next_tick(
    scheduler: FireTimeScheduler,
) -> None:
    entry = scheduler.schedule[TOKENS_ENTRY]
    clock = entry.schedule.nowfun
    judgements = [tuple(scheduler.is_due(entry)) for _ in range(4)]
    assert judgements == [
        (False, pytest.approx(25e-6)),  # at 01:59:59.999975: wait 25 us more
        (False, pytest.approx(15e-6)),
        (False, pytest.approx(5e-6)),
        (True, pytest.approx(A_DAY)),  # at 02:00:00.000005: send; then Wednesday 02:00
    ]
    assert entry.schedule.nowfun is clock  # the schedule reads its own clock again
    assert entry.last_run_at == LAST_RUN  # judging never records a run


def test_the_heap_built_while_the_fire_time_passes_waits_for_it_not_a_day(
    scheduler: FireTimeScheduler,
) -> None:
    entry = scheduler.schedule[TOKENS_ENTRY]
    clock = entry.schedule.nowfun
    scheduler.populate_heap()
    [(at, _priority, _entry)] = [e for e in scheduler._heap if e[2].name == TOKENS_ENTRY]
    assert at == pytest.approx(FIRE.timestamp() - 0.01, abs=1e-4)  # Celery wakes 10 ms early
    assert entry.schedule.nowfun is clock
    assert entry.last_run_at == LAST_RUN
