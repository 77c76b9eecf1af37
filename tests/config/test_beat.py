"""A real beat scheduler ticked under a frozen clock: what it sends, and when.

The project's scheduler (Celery's `PersistentScheduler`, stamping each message with its
entry and fire time: config/beat.py), on a temporary schedule file, built on the project's
app with the project's beat schedule. It publishes through the app's real send path
(`Task.apply_async` -> `app.send_task` -> kombu) into kombu's in-memory broker, and each
message is read back from the queue with the frozen instant it was sent at. freezegun
also freezes `time.monotonic`, which is why no real broker or worker is involved here.

The clock moves the way a sleeping beat would: by the delay `tick()` asks for, rounded
up to a whole second (and in fixed 1 s steps where a boundary is examined second by
second). Every instant below is a literal in UTC.
"""

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from freezegun.api import FrozenDateTimeFactory
from kombu import Connection
from kombu.simple import SimpleQueue

from config.beat import FireTimeScheduler
from config.celery import BEAT_EXPIRES_S, app

MEDIA = "clean_generated_media"
TOKENS = "clean_blacklisted_tokens"
# Beat also runs Celery's own `celery.backend_cleanup` (04:00 daily) because the database
# result backend cannot expire results by itself; these tests follow only our two tasks.
OURS = {MEDIA, TOKENS}
TICKS_PER_INSTANT = 20  # beat sends one task per tick; more than this at one instant is a loop


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class Sent:
    """One message beat published: when (frozen clock), which task, and its expiry."""

    at: datetime
    task: str
    expires: datetime


def sent(task: str, at: datetime) -> Sent:
    """The message we expect: sent at `at`, expiring BEAT_EXPIRES_S later."""
    return Sent(at=at, task=task, expires=at + timedelta(seconds=BEAT_EXPIRES_S))


def _memory_connection() -> Connection:
    """A connection to kombu's in-memory broker, private to this process.

    The transport is named: the app's `broker_transport` (settings.py sets the embedded
    broker's, config/broker.py) would otherwise win over the URL's scheme, and beat would
    publish into the shared backend/var/broker folder, where another test process, or a
    developer's worker, takes the messages.
    """
    return app.connection_for_write("memory://", transport="memory")


@pytest.fixture
def broker() -> Iterator[SimpleQueue]:
    """The default task queue on kombu's in-memory broker, empty before and after."""
    with _memory_connection() as connection:
        assert connection.transport.driver_type == "memory", "beat must not reach a shared broker"
        queue = connection.SimpleQueue(app.conf.task_default_queue)
        queue.clear()
        try:
            yield queue
        finally:
            queue.clear()
            queue.close()


class Beat:
    """The project's scheduler (`celery beat`'s, a PersistentScheduler) on `schedule_file`,
    publishing to the in-memory broker; `headers` keeps every message's headers."""

    def __init__(self, frozen: FrozenDateTimeFactory, queue: SimpleQueue, schedule_file: Path):
        assert not app.conf.task_always_eager, "beat must publish, not run tasks in-process"
        self.frozen = frozen
        self.queue = queue
        assert app.conf.beat_scheduler == "config.beat:FireTimeScheduler"
        self.scheduler = FireTimeScheduler(app=app, schedule_filename=str(schedule_file))
        self.headers: list[dict] = []
        self.scheduler.connection = _memory_connection()
        self.now = datetime.now(UTC)

    def run(self, *, until: datetime, step: timedelta | None = None) -> list[Sent]:
        """Tick at each instant from now through `until` (inclusive); return what was sent."""
        sends: list[Sent] = []
        while True:
            self.frozen.move_to(self.now)
            delay = self._tick_until_idle()
            sends += self._drain()
            if self.now >= until:
                return sends
            wait = step or timedelta(seconds=max(1, math.ceil(delay)))
            self.now = min(self.now + wait, until)

    def _tick_until_idle(self) -> float:
        for _ in range(TICKS_PER_INSTANT):
            delay = self.scheduler.tick()
            if delay > 0:
                return delay
        raise AssertionError(f"beat never went idle at {self.now:%Y-%m-%d %H:%M:%S}")

    def _drain(self) -> list[Sent]:
        sends = []
        while True:
            try:
                message = self.queue.get(block=False)
            except self.queue.Empty:
                return sends
            headers = message.headers
            self.headers.append(headers)
            assert headers["celery_beat_task"] is True
            assert headers["eta"] is None
            sends.append(
                Sent(
                    at=self.now,
                    task=headers["task"],
                    expires=datetime.fromisoformat(headers["expires"]),
                )
            )
            message.ack()

    def close(self) -> None:
        self.scheduler.close()


@contextmanager
def beat_from(start: datetime, queue: SimpleQueue, schedule_file: Path) -> Iterator[Beat]:
    """Start beat at the frozen instant `start`; stop it (closing its file) on exit."""
    with freeze_time(start) as frozen:
        beat = Beat(frozen, queue, schedule_file)
        try:
            yield beat
        finally:
            beat.close()


def ours(sends: list[Sent]) -> list[Sent]:
    return sorted(s for s in sends if s.task in OURS)


def test_nothing_is_sent_at_sunday_02_59_59_and_media_cleanup_once_at_03_00_00(
    broker: SimpleQueue, tmp_path: Path
) -> None:
    one_second = timedelta(seconds=1)
    with beat_from(utc(2026, 3, 1, 2, 59, 0), broker, tmp_path / "schedule") as beat:
        before = beat.run(until=utc(2026, 3, 1, 2, 59, 59), step=one_second)
        at_fire_time = beat.run(until=utc(2026, 3, 1, 3, 0, 0), step=one_second)
        after = beat.run(until=utc(2026, 3, 1, 3, 10, 0), step=one_second)
    assert before == []
    assert at_fire_time == [
        Sent(at=utc(2026, 3, 1, 3, 0, 0), task=MEDIA, expires=utc(2026, 3, 1, 9, 0, 0))
    ]
    assert after == []


@pytest.mark.parametrize("process_tz", ["UTC", "Europe/Berlin"], indirect=True)
def test_fourteen_simulated_days_send_each_cleanup_at_its_utc_instants(
    process_tz: str, broker: SimpleQueue, tmp_path: Path
) -> None:
    """Monday 2026-03-23 to Monday 2026-04-06: across the spring clock change and a month end."""
    with beat_from(utc(2026, 3, 23, 0, 0, 0), broker, tmp_path / "schedule") as beat:
        sends = beat.run(until=utc(2026, 4, 5, 23, 59, 59))
    token_days = [utc(2026, 3, day, 2) for day in range(23, 32)] + [
        utc(2026, 4, day, 2) for day in range(1, 6)
    ]
    assert len(token_days) == 14
    assert ours(sends) == sorted(
        [sent(TOKENS, at) for at in token_days]
        + [sent(MEDIA, utc(2026, 3, 29, 3)), sent(MEDIA, utc(2026, 4, 5, 3))]
    )
    assert [s.task for s in sends].count(TOKENS) == 14
    assert [s.task for s in sends].count(MEDIA) == 2


@pytest.mark.parametrize(
    ("process_tz", "local_wall_time"),
    [
        pytest.param("Asia/Tokyo", (2026, 3, 8, 12, 0, 0), id="Asia/Tokyo"),
        pytest.param("Europe/Moscow", (2026, 3, 8, 6, 0, 0), id="Europe/Moscow"),
    ],
    indirect=["process_tz"],
)
def test_far_process_time_zone_changes_neither_instant(
    process_tz: str, local_wall_time: tuple[int, ...], broker: SimpleQueue, tmp_path: Path
) -> None:
    with beat_from(utc(2026, 3, 7, 12, 0, 0), broker, tmp_path / "schedule") as beat:
        sends = beat.run(until=utc(2026, 3, 8, 3, 0, 0))
        # The two clocks a local-time bug would read, at the weekly fire instant:
        # time.localtime() follows TZ; freezegun's naive datetime.now() does not (it is
        # the frozen UTC wall time), which is why the schedule must never read either.
        assert time.localtime()[:6] == local_wall_time
        assert datetime.now() == datetime(2026, 3, 8, 3, 0, 0)
        assert datetime.now(UTC) == utc(2026, 3, 8, 3, 0, 0)
        sends += beat.run(until=utc(2026, 3, 9, 3, 0, 0))
    assert ours(sends) == [
        sent(TOKENS, utc(2026, 3, 8, 2)),
        sent(MEDIA, utc(2026, 3, 8, 3)),
        sent(TOKENS, utc(2026, 3, 9, 2)),
    ]


# --- Missed runs -----------------------------------------------------------------
# Beat ran from Saturday 2026-02-28 23:00 to Sunday 2026-03-01 05:00 (tokens sent at
# 02:00, media at 03:00), then went down. A new beat process later opens the same
# schedule file, whose last runs are now older than one period. The rule
# (beat_cron_starting_deadline, 6 h): a missed fire time at most 6 h ago runs at once,
# and only once; an older one waits for the next fire time.
MISSED_RUNS = [
    pytest.param(
        utc(2026, 3, 8, 9, 0, 0),
        utc(2026, 3, 9, 2, 0, 0),
        [sent(MEDIA, utc(2026, 3, 8, 9, 0, 0)), sent(TOKENS, utc(2026, 3, 9, 2))],
        id="back-6h-after-sunday-03:00-media-runs-at-once",
    ),
    pytest.param(
        utc(2026, 3, 8, 9, 0, 1),
        utc(2026, 3, 15, 3, 0, 0),
        [sent(TOKENS, utc(2026, 3, day, 2)) for day in range(9, 16)]
        + [sent(MEDIA, utc(2026, 3, 15, 3))],
        id="back-6h-1s-after-sunday-03:00-media-waits-a-week",
    ),
    pytest.param(
        utc(2026, 3, 7, 8, 0, 0),
        utc(2026, 3, 8, 3, 0, 0),
        [
            sent(TOKENS, utc(2026, 3, 7, 8, 0, 0)),
            sent(TOKENS, utc(2026, 3, 8, 2)),
            sent(MEDIA, utc(2026, 3, 8, 3)),
        ],
        id="back-6h-after-02:00-tokens-run-at-once",
    ),
    pytest.param(
        utc(2026, 3, 7, 8, 0, 1),
        utc(2026, 3, 8, 3, 0, 0),
        [sent(TOKENS, utc(2026, 3, 8, 2)), sent(MEDIA, utc(2026, 3, 8, 3))],
        id="back-6h-1s-after-02:00-tokens-wait",
    ),
    pytest.param(
        utc(2026, 4, 5, 5, 0, 0),
        utc(2026, 4, 6, 2, 0, 0),
        [
            sent(MEDIA, utc(2026, 4, 5, 5, 0, 0)),
            sent(TOKENS, utc(2026, 4, 5, 5, 0, 0)),
            sent(TOKENS, utc(2026, 4, 6, 2)),
        ],
        id="back-after-5-weeks-within-6h-each-runs-once",
    ),
]


@pytest.mark.parametrize(("back_at", "until", "expected"), MISSED_RUNS)
def test_restarted_beat_handles_runs_missed_while_it_was_down(
    back_at: datetime, until: datetime, expected: list[Sent], broker: SimpleQueue, tmp_path: Path
) -> None:
    schedule_file = tmp_path / "celerybeat-schedule"
    with beat_from(utc(2026, 2, 28, 23, 0, 0), broker, schedule_file) as beat:
        first_session = beat.run(until=utc(2026, 3, 1, 5, 0, 0))
    assert ours(first_session) == [
        sent(TOKENS, utc(2026, 3, 1, 2)),
        sent(MEDIA, utc(2026, 3, 1, 3)),
    ]
    with beat_from(back_at, broker, schedule_file) as beat:
        stored = {
            name: beat.scheduler.schedule[name].last_run_at for name in app.conf.beat_schedule
        }
        second_session = beat.run(until=until)
    assert stored == {
        "clean-generated-media-weekly": utc(2026, 3, 1, 3),
        "clean-blacklisted-tokens-daily": utc(2026, 3, 1, 2),
    }
    assert ours(second_session) == sorted(expected)


def test_beat_on_a_fresh_schedule_file_waits_for_the_next_fire_time(
    broker: SimpleQueue, tmp_path: Path
) -> None:
    """No stored last run, so nothing counts as missed: the 03:00 run a second ago is not."""
    with beat_from(utc(2026, 3, 8, 3, 0, 1), broker, tmp_path / "schedule") as beat:
        sends = beat.run(until=utc(2026, 3, 9, 2, 0, 0))
    assert ours(sends) == [sent(TOKENS, utc(2026, 3, 9, 2))]
