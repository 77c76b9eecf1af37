"""The tasks are thin: each returns its cleanup's summary, driven by the clock."""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from freezegun import freeze_time

from maintenance.tasks import clean_blacklisted_tokens, clean_generated_media

NOW = datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC)  # a Sunday, at the weekly fire time
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
    old = _file_aged(media_root, "old.png", 7 * DAY + 1)
    young = _file_aged(media_root, "young.png", 7 * DAY)
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
        "duration_s": summary["duration_s"],
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
    }
