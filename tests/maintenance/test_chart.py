"""The chart's geometry: one mark per run per panel, placed by time and value."""

from datetime import UTC, datetime, timedelta

import pytest

from maintenance import chart
from maintenance.chart import RunPoint, Series, binary_ceiling, build_chart, nice_ceiling

UNTIL = datetime(2026, 3, 31, 0, 0, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=90)
PLOT = chart.WIDTH - chart.LEFT - chart.RIGHT


def point(run_id: int, at: datetime, value: float | None, outcome: str = "ok") -> RunPoint:
    return RunPoint(run_id=run_id, at=at, outcome=outcome, value=value, title=f"run {run_id}")


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [(-3, 1.0), (0, 1.0), (0.3, 0.5), (1, 1), (1.01, 2), (2.2, 2.5), (4, 5), (6, 10), (999, 1000)],
)
def test_nice_ceiling_is_the_next_round_number(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0, 1),
        (0.5, 0.5),
        (400, 500),
        (501, 1024),
        (1024, 1024),
        (3 << 20, 5 << 20),
        (900 << 20, 1 << 30),
        (1536 << 30, 2 << 40),
    ],
    ids=["zero", "under-a-byte", "400-B", "501-B", "1-KiB", "3-MiB", "900-MiB", "1.5-TiB"],
)
def test_binary_ceiling_is_round_in_powers_of_1024(value: float, ceiling: float) -> None:
    assert binary_ceiling(value) == pytest.approx(ceiling)


def test_marks_sit_at_their_time_and_value_in_time_order() -> None:
    series = Series(
        "files deleted",
        [point(2, UNTIL, 50.0), point(1, SINCE, 100.0), point(3, SINCE + timedelta(days=45), 0.0)],
        label=str,
    )
    (panel,) = build_chart("t", [series], since=SINCE, until=UNTIL).panels
    assert [m.run_id for m in panel.marks] == [1, 3, 2]
    assert [m.x for m in panel.marks] == [chart.LEFT, chart.LEFT + PLOT / 2, chart.LEFT + PLOT]
    assert panel.top == chart.TITLE
    assert [m.height for m in panel.marks] == [
        chart.BARS_HEIGHT,
        chart.MIN_BAR,
        chart.BARS_HEIGHT / 2,
    ]
    assert [m.top for m in panel.marks] == [panel.top, panel.base - chart.MIN_BAR, panel.top + 46]
    assert [m.left for m in panel.marks] == [m.x - chart.BAR_WIDTH / 2 for m in panel.marks]
    assert [(t.label, t.at) for t in panel.ticks] == [
        ("0.0", panel.base),
        ("50.0", panel.base - chart.BARS_HEIGHT / 2),
        ("100.0", panel.top),
    ]


def test_a_run_without_a_figure_keeps_its_mark_on_the_zero_line_and_out_of_the_line() -> None:
    points = [
        point(1, SINCE + timedelta(days=1), 2.0),
        point(2, SINCE + timedelta(days=2), None, "failed"),
        point(3, SINCE + timedelta(days=3), 4.0, "partial"),
    ]
    bars, line = build_chart(
        "t",
        [Series("a", points, str), Series("b", points, str, kind="line")],
        since=SINCE,
        until=UNTIL,
    ).panels
    failed = bars.marks[1]
    assert (failed.run_id, failed.outcome, failed.missing, failed.y) == (
        2,
        "failed",
        True,
        bars.base,
    )
    assert [m.outcome for m in bars.marks] == ["ok", "failed", "partial"]
    assert line.top == bars.base + chart.TITLE
    assert line.height == chart.LINE_HEIGHT
    assert line.line == " ".join(f"{m.x},{m.y}" for m in (line.marks[0], line.marks[2]))


def test_runs_outside_the_window_are_pinned_to_its_edges() -> None:
    points = [point(1, SINCE - timedelta(days=3), 1.0), point(2, UNTIL + timedelta(days=3), 1.0)]
    (panel,) = build_chart("t", [Series("a", points, str)], since=SINCE, until=UNTIL).panels
    assert [m.x for m in panel.marks] == [chart.LEFT, chart.WIDTH - chart.RIGHT]


def test_date_ticks_every_fifteen_days_and_height_of_all_panels() -> None:
    result = build_chart(
        "t", [Series("a", [], str), Series("b", [], str, kind="line")], since=SINCE, until=UNTIL
    )
    assert [t.label for t in result.dates] == [
        "Dec 31",
        "Jan 15",
        "Jan 30",
        "Feb 14",
        "Mar 01",
        "Mar 16",
        "Mar 31",
    ]
    assert result.height == 2 * chart.TITLE + chart.BARS_HEIGHT + chart.LINE_HEIGHT + chart.DATES
    assert [p.ticks[-1].label for p in result.panels] == ["1.0", "1.0"]  # empty: a 0-1 scale
    assert all(p.marks == () for p in result.panels)
