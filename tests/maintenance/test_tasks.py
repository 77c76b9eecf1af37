"""The tasks are thin: each returns its cleanup's summary, driven by the clock."""

import os
from pathlib import Path

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from freezegun import freeze_time
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance.models import MaintenanceRun
from maintenance.tasks import clean_blacklisted_tokens, clean_generated_media, protected_paths
from tests.clock import LONG_AGO, MEDIA_NOW
from tests.factories import OutstandingTokenFactory
from tests.maintenance.token_support import BLACKLIST_DELETE, before_each

NOW = MEDIA_NOW  # a Sunday, at the weekly fire time
DAY = 86400


def _file_aged(root: Path, name: str, age_s: float) -> Path:
    path = root / name
    path.write_bytes(b"x" * 10)
    mtime = NOW.timestamp() - age_s
    os.utime(path, (mtime, mtime))
    return path


@pytest.mark.eager
@pytest.mark.django_db  # every run writes its row in the run history
@pytest.mark.usefixtures("eager")
def test_media_task_returns_its_summary_and_the_frozen_clock_sets_the_cutoff(
    media_root: Path,
) -> None:
    old = _file_aged(media_root, "old.png", 8 * DAY)  # the edge: test_media_cutoff.py
    young = _file_aged(media_root, "young.png", 1 * DAY)
    with freeze_time(NOW):
        summary = clean_generated_media.delay().get()
    assert not old.exists()
    assert young.exists()
    assert summary == {
        "root": str(media_root),
        "scanned": 2,
        "deleted": 1,
        "bytes_freed": 10,
        "dirs_removed": 0,
        "skipped": 0,
        "errors": 0,
        "dry_run": False,
        "completed": True,
        "duration_s": summary["duration_s"],
        "root_missing": False,
        "stop_reason": "",
        "recorded": True,
    }


@pytest.mark.eager
@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_token_task_returns_its_summary() -> None:
    summary = clean_blacklisted_tokens.delay(dry_run=True).get()
    assert summary == {
        "scanned": 0,
        "expired": 0,
        "blacklisted_deleted": 0,
        "outstanding_deleted": 0,
        "undecodable": 0,
        "dry_run": True,
        "completed": True,
        "duration_s": summary["duration_s"],
        "stop_reason": "",
        "recorded": True,
    }


@pytest.mark.eager
@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_token_task_at_its_soft_time_limit_returns_a_partial_summary_recorded_as_partial(
    settings,
) -> None:
    settings.TOKEN_CLEANUP_BATCH_SIZE = 1
    expired = [OutstandingTokenFactory(exp=LONG_AGO, blacklisted=True) for _ in range(3)]

    def soft_limit_in_batch_2(n: int, ids: list[int]) -> None:
        if n == 2:
            raise SoftTimeLimitExceeded()  # what Celery raises at the soft limit

    with before_each(BLACKLIST_DELETE, soft_limit_in_batch_2):
        summary = clean_blacklisted_tokens.delay().get()

    assert (summary["completed"], summary["outstanding_deleted"]) == (False, 1)
    assert set(OutstandingToken.objects.values_list("pk", flat=True)) == {t.pk for t in expired[1:]}
    assert BlacklistedToken.objects.count() == 2
    run = MaintenanceRun.objects.get()
    assert (run.task, run.outcome, run.summary["completed"], run.summary["stop_reason"]) == (
        "clean_blacklisted_tokens",
        "partial",
        False,
        "time_limit",
    )
    assert summary["stop_reason"] == "time_limit"

    finished = clean_blacklisted_tokens.delay().get()

    assert (finished["completed"], finished["outstanding_deleted"]) == (True, 2)
    assert OutstandingToken.objects.count() == BlacklistedToken.objects.count() == 0


@pytest.mark.parametrize(
    ("task", "soft_s", "hard_s"),
    [
        pytest.param(clean_generated_media, 50 * 60, 55 * 60, id="media"),
        pytest.param(clean_blacklisted_tokens, 25 * 60, 30 * 60, id="tokens"),
    ],
)
def test_each_task_gets_its_soft_limit_five_minutes_before_the_hard_kill(
    task, soft_s: int, hard_s: int
) -> None:
    # The limits docs/periodic-tasks.md states ("Delivery, retries and time limits").
    assert (task.soft_time_limit, task.time_limit) == (soft_s, hard_s)


@pytest.mark.parametrize(
    "task", [clean_generated_media, clean_blacklisted_tokens], ids=["media", "tokens"]
)
def test_retry_delays_are_capped_at_five_minutes(task) -> None:
    assert task.retry_backoff_max == 300


@pytest.mark.eager
@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_dry_run_may_be_passed_by_position(media_root: Path) -> None:
    old = _file_aged(media_root, "old.png", 30 * DAY)
    summary = clean_generated_media.apply(args=(True,)).get()  # celery call --args '[true]'
    assert (summary["dry_run"], summary["deleted"]) == (True, 1)
    assert old.exists()


def test_a_media_root_may_not_hold_the_sqlite_databases_nor_the_log_folder(tmp_path: Path) -> None:
    real = Path(os.path.realpath(tmp_path)) / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    databases = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": tmp_path / "link" / "db"},
        "memory": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
        "unnamed": {"ENGINE": "django.db.backends.sqlite3", "NAME": ""},
        "server": {"ENGINE": "django.db.backends.postgresql", "NAME": "app"},
    }
    assert protected_paths(databases, tmp_path / "link" / "logs") == [
        ("the SQLite database", str(real / "db")),
        ("the log folder", str(real / "logs")),
    ]
