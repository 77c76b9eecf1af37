"""The run history: one row per run however it started, outcomes, errors, pruning."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from freezegun import freeze_time

from maintenance import history
from maintenance.history import outcome_of, prune_history, record_run
from maintenance.models import MaintenanceRun
from maintenance.recording import recorded_run
from maintenance.redaction import REDACTED
from maintenance.tasks import clean_blacklisted_tokens, clean_generated_media
from tests.clock import MEDIA_NOW
from tests.factories import signed_refresh_token

NOW = MEDIA_NOW  # a Sunday, at the weekly fire time
OLD = datetime(2026, 2, 1, 3, 0, 0, tzinfo=UTC)  # 28 days before NOW: older than 7 days
NINETY_DAYS = timedelta(days=90)  # NOW - 90 d = 2025-12-01 03:00:00 UTC

pytestmark = pytest.mark.django_db


def _old_file(root: Path, name: str) -> Path:
    path = root / name
    path.write_bytes(b"x" * 10)
    os.utime(path, (OLD.timestamp(), OLD.timestamp()))
    return path


def _row(finished_at: datetime, *, task: str = "clean_generated_media", outcome: str = "ok"):
    summary = None if outcome == "failed" else {"completed": outcome == "ok"}
    return record_run(
        task=task,
        origin="command",
        dry_run=False,
        started_at=finished_at - timedelta(seconds=1),
        finished_at=finished_at,
        summary=summary,
    )


# --- every way a run starts writes one row ---------------------------------------------


@pytest.mark.eager
@pytest.mark.usefixtures("eager")
def test_task_run_writes_one_ok_row_with_its_summary(media_root: Path) -> None:
    old = _old_file(media_root, "old.png")
    with freeze_time(NOW):
        summary = clean_generated_media.delay().get()
    assert not old.exists()
    run = MaintenanceRun.objects.get()
    assert (run.task, run.origin, run.outcome, run.dry_run) == (
        "clean_generated_media",
        "task",
        "ok",
        False,
    )
    assert (run.started_at, run.finished_at) == (NOW, NOW)
    assert run.summary == summary
    assert run.summary["deleted"] == 1
    assert run.error == ""


@pytest.mark.eager
@pytest.mark.usefixtures("eager")
def test_run_sent_by_beat_is_recorded_with_origin_beat() -> None:
    # Beat marks what it sends with this header (celery/beat.py, Scheduler.apply_async).
    clean_blacklisted_tokens.apply_async(headers={"celery_beat_task": True}).get()
    run = MaintenanceRun.objects.get()
    assert (run.task, run.origin, run.outcome) == ("clean_blacklisted_tokens", "beat", "ok")


def test_command_run_writes_one_row_with_origin_command() -> None:
    with freeze_time(NOW):
        call_command("clean_blacklisted_tokens", "--dry-run", "--json")
    run = MaintenanceRun.objects.get()
    assert (run.task, run.origin, run.outcome, run.dry_run) == (
        "clean_blacklisted_tokens",
        "command",
        "ok",
        True,
    )
    assert run.summary["dry_run"] is True
    assert run.summary["completed"] is True


@pytest.mark.eager
@pytest.mark.usefixtures("eager")
def test_failed_run_is_recorded_with_its_error_and_the_error_still_propagates(
    monkeypatch: pytest.MonkeyPatch, media_root: Path
) -> None:
    def disk_full(**_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("maintenance.tasks.delete_old_media", disk_full)
    kept = _old_file(media_root, "old.png")
    with freeze_time(NOW), pytest.raises(OSError, match="No space left on device"):
        clean_generated_media.delay()
    run = MaintenanceRun.objects.get()
    assert (run.task, run.origin, run.outcome, run.summary) == (
        "clean_generated_media",
        "task",
        "failed",
        None,
    )
    assert (run.started_at, run.finished_at) == (NOW, NOW)
    assert "Traceback" in run.error
    assert run.error.rstrip().endswith("OSError: [Errno 28] No space left on device")
    assert kept.exists()


def test_error_text_never_holds_a_jwt() -> None:
    token = signed_refresh_token(user_id=1, jti="j1", exp=NOW)

    with (
        pytest.raises(ValueError, match="cannot parse"),
        recorded_run("clean_blacklisted_tokens", dry_run=False, started_at=NOW),
    ):
        raise ValueError(f"cannot parse {token}")
    run = MaintenanceRun.objects.get()
    assert token not in run.error
    assert f"ValueError: cannot parse {REDACTED}" in run.error


@pytest.mark.parametrize(
    ("summary", "outcome"),
    [
        (None, "failed"),
        ({"completed": False, "scanned": 5}, "partial"),
        ({"completed": True, "scanned": 5}, "ok"),
        ({"deleted": 3}, "ok"),  # a summary without `completed` is complete
    ],
    ids=["raised", "stopped-early", "completed", "no-completed-field"],
)
def test_outcome_follows_from_the_summary(summary: dict | None, outcome: str) -> None:
    assert outcome_of(summary) == outcome


# --- pruning ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finished_at", "kept"),
    [
        (datetime(2025, 12, 1, 2, 59, 59, tzinfo=UTC), False),
        (datetime(2025, 12, 1, 3, 0, 0, tzinfo=UTC), True),
        (datetime(2025, 12, 1, 3, 0, 1, tzinfo=UTC), True),
    ],
    ids=["90d-and-1s-old", "exactly-90d", "1s-younger-than-90d"],
)
def test_rows_strictly_older_than_max_age_are_pruned(finished_at: datetime, kept: bool) -> None:
    row = _row(finished_at, outcome="failed")
    recent = _row(datetime(2026, 2, 28, 3, 0, 0, tzinfo=UTC))
    assert prune_history(now=NOW, max_age=NINETY_DAYS) == (0 if kept else 1)
    assert MaintenanceRun.objects.filter(pk=row.pk).exists() is kept
    assert MaintenanceRun.objects.filter(pk=recent.pk).exists()


def test_the_last_success_of_each_task_survives_pruning_however_old() -> None:
    older_success = _row(datetime(2025, 10, 1, 3, 0, 0, tzinfo=UTC))
    last_media_success = _row(datetime(2025, 11, 2, 3, 0, 0, tzinfo=UTC))
    later_media_failure = _row(datetime(2025, 11, 9, 3, 0, 0, tzinfo=UTC), outcome="failed")
    old_token_partial = _row(
        datetime(2025, 11, 10, 2, 0, 0, tzinfo=UTC),
        task="clean_blacklisted_tokens",
        outcome="partial",
    )
    assert prune_history(now=NOW, max_age=NINETY_DAYS) == 3
    assert list(MaintenanceRun.objects.values_list("pk", flat=True)) == [last_media_success.pk]
    gone = (older_success.pk, later_media_failure.pk, old_token_partial.pk)
    assert not MaintenanceRun.objects.filter(pk__in=gone).exists()


def test_every_run_prunes_rows_older_than_the_history_setting(settings: object) -> None:
    settings.MAINTENANCE_HISTORY_DAYS = 30  # NOW - 30 d = 2026-01-30 03:00:00 UTC
    too_old = _row(datetime(2026, 1, 30, 2, 59, 59, tzinfo=UTC), outcome="failed")
    young = _row(datetime(2026, 1, 30, 3, 0, 0, tzinfo=UTC), outcome="failed")
    with freeze_time(NOW):
        call_command("clean_blacklisted_tokens", "--json")
    assert not MaintenanceRun.objects.filter(pk=too_old.pk).exists()
    assert MaintenanceRun.objects.filter(pk=young.pk).exists()
    assert (
        MaintenanceRun.objects.filter(task="clean_blacklisted_tokens", finished_at=NOW).count() == 1
    )


def test_task_called_as_a_plain_function_is_recorded_as_a_direct_run(media_root: Path) -> None:
    """`clean_generated_media()` in a shell runs the body here, with no message: a command."""
    old = _old_file(media_root, "old.png")
    with freeze_time(NOW):
        summary = clean_generated_media()
    assert not old.exists()
    run = MaintenanceRun.objects.get()
    assert (run.task, run.origin, run.outcome) == ("clean_generated_media", "command", "ok")
    assert run.summary == summary
    assert summary["deleted"] == 1


def test_a_traceback_longer_than_the_limit_keeps_its_end() -> None:
    with (
        pytest.raises(ValueError, match=r"and the end$"),
        recorded_run("clean_blacklisted_tokens", dry_run=False, started_at=NOW),
    ):
        raise ValueError("x" * 2 * history.ERROR_TEXT_LIMIT + " and the end")
    run = MaintenanceRun.objects.get()
    assert len(run.error) == history.ERROR_TEXT_LIMIT + 1
    assert run.error.startswith("…x")  # the start is cut: the exception's line is the end
    assert "Traceback" not in run.error
    assert run.error.rstrip().endswith("xxx and the end")
    assert run.outcome == "failed"
