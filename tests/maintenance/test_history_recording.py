"""What a run reports about its own record: `stop_reason`, `recorded`, and a failed write.

A history write that fails is one WARNING line, the summary says `recorded: false`, and
the cleanup's own work stands. A run stopped early is `partial`, with its reason.
"""

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError
from freezegun import freeze_time
from loguru import logger

from maintenance import history
from maintenance.management.commands._summary import NOT_RECORDED_EXIT
from maintenance.models import MaintenanceRun
from maintenance.recording import RecordedRun, recorded_run
from maintenance.tokens import TokenCleanupSummary
from tests.clock import MEDIA_NOW

NOW = MEDIA_NOW
OLD = NOW - timedelta(days=30)

pytestmark = pytest.mark.django_db


@pytest.fixture
def warnings_and_up() -> Iterator[list[str]]:
    """Loguru lines at WARNING and above, as "LEVEL message"."""
    lines: list[str] = []
    sink = logger.add(
        lambda message: lines.append(message.rstrip()), level="WARNING", format="{level} {message}"
    )
    yield lines
    logger.remove(sink)


def database_down(**_kwargs: object) -> None:
    raise DatabaseError("connection refused\nis the server running?")


def record(summary: TokenCleanupSummary, *, stop_reason: str = "time_limit") -> RecordedRun:
    """A run of the token task, recorded at NOW, whose cleanup returned `summary`."""
    with (
        freeze_time(NOW),
        recorded_run(
            "clean_blacklisted_tokens", dry_run=False, started_at=NOW, stop_reason=stop_reason
        ) as run,
    ):
        run.summary = summary
    return run


@pytest.mark.parametrize(
    ("completed", "stop_reason", "outcome", "reason"),
    [
        (True, "time_limit", "ok", ""),
        (True, "interrupted", "ok", ""),  # a command asked to stop after its last poll
        (False, "interrupted", "partial", "interrupted"),
        (False, "time_limit", "partial", "time_limit"),
    ],
    ids=["completed", "signal-after-the-end", "interrupted", "soft-time-limit"],
)
def test_a_run_reports_and_records_why_it_stopped_early(
    completed: bool, stop_reason: str, outcome: str, reason: str
) -> None:
    run = record(TokenCleanupSummary(scanned=10, completed=completed), stop_reason=stop_reason)

    assert (run.stop_reason, run.recorded, run.summary.scanned) == (reason, True, 10)
    row = MaintenanceRun.objects.get()
    assert row.outcome == outcome
    assert row.summary == run.as_dict()
    assert (row.summary["stop_reason"], row.summary["recorded"]) == (reason, True)
    assert list(row.summary)[-3:] == ["duration_s", "stop_reason", "recorded"]


@pytest.mark.parametrize(
    ("failing", "recorded", "rows", "warning"),
    [
        ("record_run", False, 0, "could not write the run history of clean_blacklisted_tokens"),
        ("prune_history", True, 1, "could not prune the run history"),
    ],
    ids=["write", "prune"],
)
def test_a_database_refusal_is_one_warning_and_recorded_says_whether_the_row_exists(
    monkeypatch: pytest.MonkeyPatch,
    warnings_and_up: list[str],
    failing: str,
    recorded: bool,
    rows: int,
    warning: str,
) -> None:
    monkeypatch.setattr(history, failing, database_down)

    run = record(TokenCleanupSummary(scanned=3))

    assert (run.recorded, run.as_dict()["recorded"]) == (recorded, recorded)
    assert MaintenanceRun.objects.filter(summary__recorded=True).count() == rows
    assert warnings_and_up == [
        f"WARNING {warning}: DatabaseError: connection refused is the server running?"
    ]


def test_an_exception_without_a_message_is_named_by_its_type() -> None:
    assert history.one_line(DatabaseError()) == "DatabaseError"


def test_the_media_command_deletes_prints_recorded_false_and_exits_3_when_the_write_fails(
    monkeypatch: pytest.MonkeyPatch, media_root: Path, warnings_and_up: list[str]
) -> None:
    monkeypatch.setattr(history, "record_run", database_down)
    old = media_root / "old.png"
    old.write_bytes(b"x")
    os.utime(old, (OLD.timestamp(), OLD.timestamp()))
    out = StringIO()

    with freeze_time(NOW), pytest.raises(SystemExit) as stopped:
        call_command("clean_generated_media", "--json", stdout=out)

    assert stopped.value.code == NOT_RECORDED_EXIT == 3
    summary = json.loads(out.getvalue())
    assert (summary["deleted"], summary["completed"], summary["recorded"]) == (1, True, False)
    assert not old.exists()  # the job was done; only its record is missing
    assert MaintenanceRun.objects.count() == 0
    assert len(warnings_and_up) == 1
    assert warnings_and_up[0].startswith(
        "WARNING could not write the run history of clean_generated_media: DatabaseError"
    )
