"""Progress: throttled reports of the counts so far, from both cleanups, on a real clock seam."""

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Task
from loguru import logger

from maintenance.media import MediaCleanupSummary, delete_old_media, sweep
from maintenance.progress import TerminalLine, Throttled, deleted_of, task_progress
from maintenance.tasks import clean_blacklisted_tokens, clean_generated_media
from maintenance.tokens import delete_expired_tokens
from tests.clock import MEDIA_NOW as NOW
from tests.clock import WEEK
from tests.factories import OutstandingTokenFactory


class Counts:
    """A summary stand-in with just `as_dict`, as Throttled reads it."""

    def __init__(self, **counts: int) -> None:
        self.counts = counts

    def as_dict(self) -> dict[str, Any]:
        return dict(self.counts)


def test_throttled_reports_at_once_then_at_most_once_per_interval() -> None:
    ticks = iter([100.0, 100.0, 100.4, 100.99, 101.0, 101.5, 102.5])
    reports: list[dict] = []
    throttled = Throttled(reports.append, interval_s=1.0, clock=lambda: next(ticks))
    for scanned in range(1, 7):
        throttled(Counts(scanned=scanned))
    assert reports == [
        {"scanned": 1, "elapsed_s": 0.0},  # the first call, at once
        {"scanned": 4, "elapsed_s": 1.0},  # exactly one interval after the last report
        {"scanned": 6, "elapsed_s": 2.5},
    ]


def test_deleted_is_files_for_media_and_outstanding_tokens_for_tokens() -> None:
    assert deleted_of({"deleted": 3}) == 3
    assert deleted_of({"outstanding_deleted": 5, "blacklisted_deleted": 2}) == 5
    assert deleted_of({"scanned": 9}) == 0


def test_terminal_line_shows_scanned_deleted_rate_elapsed_and_clears_itself() -> None:
    stream = io.StringIO()
    line = TerminalLine(stream)
    line({"scanned": 12345, "deleted": 6000, "elapsed_s": 5.0})
    line({"scanned": 20000, "outstanding_deleted": 7000, "elapsed_s": 0.0})
    drawn = stream.getvalue()
    line.close()
    assert "scanned 12,345 · deleted 6,000 · 2,469/s · 00:05" in drawn
    assert "scanned 20,000 · deleted 7,000 · 0/s · 00:00" in drawn
    assert stream.getvalue().endswith("\r")  # leave=False: the line is blanked, no newline
    assert "\n" not in stream.getvalue()


@pytest.mark.django_db
def test_no_task_progress_outside_a_worker(eager: None) -> None:
    assert task_progress() is None  # no task at all
    assert clean_generated_media.delay(dry_run=True).get()["dry_run"] is True  # eager: none


@contextmanager
def in_a_worker(task: Task, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the block as the worker runs `task`: on Celery's task stack, with a request."""
    from celery.utils.threads import LocalStack

    stack = LocalStack()
    stack.push(task)
    monkeypatch.setattr("celery._state._task_stack", stack)
    task.push_request(called_directly=False, hostname="w1@host", id="a-task-id")
    try:
        yield
    finally:
        task.pop_request()


@pytest.mark.django_db
@pytest.mark.parametrize("task", [clean_generated_media, clean_blacklisted_tokens])
def test_each_task_in_a_worker_reports_its_counts_as_progress(
    task: Task, monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    settings.GENERATED_MEDIA_ROOT = tmp_path  # an empty folder: one report, at its end
    OutstandingTokenFactory(exp=NOW + WEEK)  # one batch: one report, after it
    reports: list[dict] = []
    monkeypatch.setattr(task, "update_state", lambda **kwargs: reports.append(kwargs))
    with in_a_worker(task, monkeypatch):
        result = task.run(dry_run=True)
    assert [report["state"] for report in reports] == ["PROGRESS"]
    assert reports[0]["meta"]["scanned"] == result["scanned"]


def test_a_failing_progress_report_warns_once_and_never_stops_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A result backend down mid-run (the fault, injected) costs the reports, not the run."""
    calls = []

    def backend_down(**kwargs: object) -> None:
        calls.append(kwargs)
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379.\nConnection refused.")

    monkeypatch.setattr(clean_generated_media, "update_state", backend_down)
    with in_a_worker(clean_generated_media, monkeypatch):
        progress = task_progress()
        assert progress is not None
        sink = []
        handler = logger.add(sink.append, level="WARNING", format="{message}")
        try:
            for scanned in (1, 2):
                progress.last = None  # no throttling: each call reports
                progress(MediaCleanupSummary(root="/media", scanned=scanned))
        finally:
            logger.remove(handler)
    assert len(calls) == 1  # the second report was not tried
    assert calls[0]["state"] == "PROGRESS"
    assert calls[0]["meta"]["scanned"] == 1
    assert [line.rstrip("\n") for line in sink] == [
        "clean_generated_media: progress reports stop, the run goes on: ConnectionError: "
        "Error 111 connecting to 127.0.0.1:6379. Connection refused."
    ]


def old_and_young_files(root: Path, paths: list[str]) -> None:
    """Every third file young, the others old; file i holds i bytes."""
    old = (NOW - WEEK - timedelta(days=1)).timestamp()
    for i, relative in enumerate(paths):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * i)
        os.utime(path, (NOW.timestamp(),) * 2 if i % 3 == 0 else (old, old))


def scanned_deleted(seen: list) -> Any:
    return lambda summary: seen.append((summary.scanned, summary.deleted))


def test_media_reports_every_progress_every_entries_of_a_large_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep, "PROGRESS_EVERY", 4)
    root = tmp_path / "flat"
    old_and_young_files(root, [f"f{i}" for i in range(10)])
    seen: list[tuple[int, int]] = []
    summary = delete_old_media(
        root=root, now=NOW, max_age=WEEK, dry_run=False, progress=scanned_deleted(seen)
    )
    assert [scanned for scanned, _ in seen] == [4, 8, 10]  # every 4 entries, then the end
    assert seen[-1] == (summary.scanned, summary.deleted) == (10, 6)
    assert sorted(p.name for p in root.iterdir()) == ["f0", "f3", "f6", "f9"]


def test_media_reports_after_each_folder_and_counts_as_without_progress(tmp_path: Path) -> None:
    paths = [f"d{d}/f{f}" for d in range(3) for f in range(3)]
    old_and_young_files(tmp_path / "with", paths)
    old_and_young_files(tmp_path / "without", paths)
    seen: list[tuple[int, int]] = []
    with_progress = delete_old_media(
        root=tmp_path / "with", now=NOW, max_age=WEEK, dry_run=False, progress=scanned_deleted(seen)
    )
    without = delete_old_media(root=tmp_path / "without", now=NOW, max_age=WEEK, dry_run=False)
    assert len(seen) == 4  # three folders, then the root
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)
    assert seen[-1] == (with_progress.scanned, with_progress.deleted) == (12, 6)
    same = {"root": "", "duration_s": 0.0}
    assert with_progress.as_dict() | same == without.as_dict() | same


@pytest.mark.django_db
def test_tokens_report_after_each_batch() -> None:
    old = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(5):
        OutstandingTokenFactory(exp=old)
    seen: list[tuple[int, int]] = []
    summary = delete_expired_tokens(
        now=datetime(2026, 3, 1, tzinfo=UTC),
        margin=timedelta(days=7),
        batch_size=2,
        dry_run=False,
        progress=lambda s: seen.append((s.scanned, s.outstanding_deleted)),
    )
    assert seen == [(2, 2), (4, 4), (5, 5)]
    assert (summary.scanned, summary.outstanding_deleted, summary.completed) == (5, 5, True)
