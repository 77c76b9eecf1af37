"""A run's figures are read from its summary, whatever that summary holds."""

from datetime import UTC, datetime

import pytest

from maintenance.figures import RunFigures, figures_of, human_duration

STARTED = datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC)
FINISHED = datetime(2026, 3, 1, 3, 2, 5, 500000, tzinfo=UTC)


def test_media_summary_gives_files_bytes_and_errors_and_no_token_figures() -> None:
    summary = {"deleted": 120, "bytes_freed": 3 << 20, "errors": 2, "skipped": 1}
    assert figures_of(summary, started_at=STARTED, finished_at=FINISHED) == RunFigures(
        deleted_files=120,
        freed_bytes=3 << 20,
        blacklisted_deleted=None,
        outstanding_deleted=None,
        undecodable=None,
        errors=2,
        duration_s=125.5,
    )


def test_token_summary_gives_token_figures_and_no_file_figures() -> None:
    summary = {"blacklisted_deleted": 10, "outstanding_deleted": 30, "undecodable": 1}
    figures = figures_of(summary, started_at=STARTED, finished_at=FINISHED)
    assert (figures.blacklisted_deleted, figures.outstanding_deleted, figures.undecodable) == (
        10,
        30,
        1,
    )
    assert (figures.deleted_files, figures.freed_bytes, figures.errors) == (None, None, None)


@pytest.mark.parametrize(
    "summary",
    [None, [], "text", {"deleted": "12", "bytes_freed": 1.5, "errors": True}],
    ids=["failed-run", "a-list", "a-string", "not-integers"],
)
def test_what_is_not_a_count_shows_as_nothing_and_duration_still_counts(summary: object) -> None:
    figures = figures_of(summary, started_at=STARTED, finished_at=FINISHED)
    assert figures == RunFigures(None, None, None, None, None, None, 125.5)


def test_a_clock_that_went_back_gives_zero_duration_not_negative() -> None:
    assert figures_of({}, started_at=FINISHED, finished_at=STARTED).duration_s == 0.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0.0 s"),
        (0.44, "0.4 s"),
        (9.94, "9.9 s"),
        (10.0, "10 s"),
        (59.4, "59 s"),
        (60.0, "1 min 00 s"),
        (185.0, "3 min 05 s"),
        (3599.4, "59 min 59 s"),
        (3600.0, "1 h 00 min"),
        (7620.0, "2 h 07 min"),
    ],
)
def test_durations_read_in_the_largest_sensible_unit(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text
