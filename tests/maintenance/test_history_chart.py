"""Which panels each task's chart gets, and which runs it holds."""

from datetime import datetime, timedelta

import pytest

from maintenance import history_chart
from maintenance.history_chart import chart_runs, charts_for
from maintenance.models import MaintenanceRun
from tests.clock import utc
from tests.factories import MaintenanceRunFactory

NOW = utc(2026, 3, 31, 12)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def build(**fields: object) -> MaintenanceRun:
    """An unsaved row with an id: the chart reads rows, it never queries."""
    build.next_id = getattr(build, "next_id", 0) + 1
    return MaintenanceRunFactory.build(id=build.next_id, **fields)


def test_media_runs_get_files_bytes_and_duration_panels_with_a_mark_per_run() -> None:
    runs = [
        build(media=True, started_at=days_ago(14)),
        build(media=True, started_at=days_ago(7), summary__deleted=40, summary__bytes_freed=10),
        build(task="clean_generated_media", failed=True, started_at=days_ago(1)),
    ]
    (chart,) = charts_for(runs, now=NOW)
    assert chart.title == "clean_generated_media"
    assert [p.title for p in chart.panels] == ["files deleted", "bytes freed", "duration"]
    files, freed, duration = chart.panels
    assert [m.run_id for m in files.marks] == [r.pk for r in runs]
    assert [m.outcome for m in freed.marks] == ["ok", "ok", "failed"]
    assert [m.missing for m in files.marks] == [False, False, True]
    assert files.ticks[-1].label == "200"  # 120 and 40 files: a 0-200 scale
    assert freed.ticks[-1].label == "5.0\xa0MB"  # 3 MiB: a 0-5,000,000 bytes scale
    assert [m.missing for m in duration.marks] == [False, False, False]
    assert (
        files.marks[0].title
        == "2026-03-17 12:00 UTC · ok · 120 files deleted · 3.0\xa0MB freed · 5.0 s"
    )


def test_token_runs_get_tokens_and_duration_and_partial_runs_are_marked() -> None:
    runs = [
        build(tokens=True, started_at=days_ago(2)),
        build(tokens=True, started_at=days_ago(1), summary__completed=False, dry_run=True),
    ]
    (chart,) = charts_for(runs, now=NOW)
    assert [p.title for p in chart.panels] == ["tokens deleted", "duration"]
    assert [m.outcome for m in chart.panels[0].marks] == ["ok", "partial"]
    assert chart.panels[0].marks[1].title == (
        "2026-03-30 12:00 UTC · partial · dry run · 300 tokens deleted (100 blacklisted) · 5.0 s"
    )


def test_one_chart_per_task_by_name_and_runs_outside_the_window_left_out() -> None:
    runs = [
        build(tokens=True, started_at=days_ago(3)),
        build(media=True, started_at=days_ago(91)),
        build(media=True, started_at=days_ago(89)),
        build(task="a_new_task", started_at=days_ago(2), summary={"completed": True}),
        build(tokens=True, started_at=NOW + timedelta(seconds=1)),
    ]
    charts = charts_for(runs, now=NOW)
    assert [c.title for c in charts] == [
        "a_new_task",
        "clean_blacklisted_tokens",
        "clean_generated_media",
    ]
    assert [len(c.panels[0].marks) for c in charts] == [1, 1, 1]
    assert [p.title for p in charts[0].panels] == ["duration"]  # no figure it knows
    assert charts_for([], now=NOW) == []


@pytest.mark.django_db
def test_chart_runs_reads_the_newest_rows_of_the_queryset_in_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(history_chart, "CHART_MAX_RUNS", 2)
    oldest, older, newer, newest = (
        MaintenanceRunFactory(media=True, started_at=days_ago(d)) for d in (4, 3, 2, 1)
    )
    MaintenanceRunFactory(media=True, started_at=days_ago(100))
    MaintenanceRunFactory(tokens=True, started_at=days_ago(1))
    queryset = MaintenanceRun.objects.filter(task="clean_generated_media")
    (chart,) = chart_runs(queryset, now=NOW)
    assert [m.run_id for m in chart.panels[0].marks] == [newer.pk, newest.pk]
    assert MaintenanceRun.objects.filter(pk__in=[oldest.pk, older.pk]).count() == 2
