"""Helpers shared by the media tests: one run at the weekly fire time, its counts, its log."""

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maintenance.media import MediaCleanupSummary, delete_old_media

NOW = datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC)  # == conftest MEDIA_NOW
WEEK = timedelta(days=7)

MakeFile = Callable[..., Path]
AgeEntry = Callable[[Path, timedelta], Path]


def clean(root: Path, *, dry_run: bool = False) -> MediaCleanupSummary:
    return delete_old_media(root=root, now=NOW, max_age=WEEK, dry_run=dry_run)


def counts(summary: MediaCleanupSummary) -> dict:
    """The summary's numbers: everything but root, duration_s and dry_run."""
    result = summary.as_dict()
    del result["root"], result["duration_s"], result["dry_run"]
    return result


def numbers(**given: int | bool) -> dict:
    """All counts zero but those given, of a run that completed."""
    return {
        "scanned": 0, "deleted": 0, "bytes_freed": 0, "dirs_removed": 0, "skipped": 0,
        "errors": 0, "completed": True, "root_missing": False, **given,
    }  # fmt: skip


def snapshot(top: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under `top` (not following links): its mode, size and mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            found[os.path.join(dirpath, name)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Each line the app logged through loguru during the test, as "LEVEL message"."""
    return [f"{r.levelname} {r.getMessage()}" for r in caplog.records if from_the_app(r)]


def from_the_app(record: logging.LogRecord) -> bool:
    """A record the app logged through loguru, not a library's nor its stdlib duplicate."""
    return hasattr(record, "extra") and record.name.startswith(("maintenance", "config"))


def warnings(log: list[str]) -> list[str]:
    return [line for line in log if line.startswith("WARNING")]


def notices(log: list[str]) -> list[str]:
    """WARNING and INFO lines but the summary: what an operator would read about items."""
    return [
        line
        for line in log
        if line.startswith(("WARNING", "INFO")) and "clean_generated_media summary" not in line
    ]
