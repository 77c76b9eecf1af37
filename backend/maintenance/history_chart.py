"""The run history's charts: one per task, of the runs the admin's filters selected."""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat

from maintenance.chart import Chart, RunPoint, Series, build_chart
from maintenance.figures import RunFigures, figures_of, human_duration
from maintenance.models import MaintenanceRun

CHART_DAYS = 90
CHART_MAX_RUNS = 2000  # per page: the newest, so a runaway history cannot stall the admin


def _count(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _tooltip(run: MaintenanceRun, figures: RunFigures) -> str:
    parts = [f"{run.started_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC", run.outcome]
    if run.dry_run:
        parts.append("dry run")
    if figures.deleted_files is not None:
        parts.append(f"{figures.deleted_files:,} files deleted")
    if figures.freed_bytes is not None:
        parts.append(f"{filesizeformat(figures.freed_bytes)} freed")
    if figures.outstanding_deleted is not None:
        parts.append(
            f"{figures.outstanding_deleted:,} tokens deleted "
            f"({figures.blacklisted_deleted or 0:,} blacklisted)"
        )
    parts.append(human_duration(figures.duration_s))
    return " · ".join(parts)


def charts_for(runs: Iterable[MaintenanceRun], *, now: datetime) -> list[Chart]:
    """Return one chart per task over the last CHART_DAYS days before `now`, tasks by name.

    A task whose runs carry files or bytes gets the media panels (files deleted, bytes
    freed), one whose runs carry tokens the token panel; every task gets duration.
    Failed runs, which have no figures, still get a mark in every panel.
    """
    since = now - timedelta(days=CHART_DAYS)
    by_task: dict[str, list[tuple[MaintenanceRun, RunFigures]]] = {}
    for run in runs:
        if since <= run.started_at <= now:
            figures = figures_of(
                run.summary, started_at=run.started_at, finished_at=run.finished_at
            )
            by_task.setdefault(run.task, []).append((run, figures))
    return [
        build_chart(task, _series(by_task[task]), since=since, until=now)
        for task in sorted(by_task)
    ]


def _series(rows: list[tuple[MaintenanceRun, RunFigures]]) -> list[Series]:
    def points(figure: Callable[[RunFigures], float | None]) -> list[RunPoint]:
        return [
            RunPoint(run.pk, run.started_at, run.outcome, figure(figures), _tooltip(run, figures))
            for run, figures in rows
        ]

    def has(figure: Callable[[RunFigures], float | None]) -> bool:
        return any(figure(figures) is not None for _, figures in rows)

    series = []
    if has(lambda f: f.deleted_files) or has(lambda f: f.freed_bytes):
        series.append(Series("files deleted", points(lambda f: f.deleted_files), _count))
        series.append(
            Series("bytes freed", points(lambda f: f.freed_bytes), filesizeformat, binary=True)
        )
    if has(lambda f: f.outstanding_deleted):
        series.append(Series("tokens deleted", points(lambda f: f.outstanding_deleted), _count))
    series.append(Series("duration", points(lambda f: f.duration_s), human_duration, kind="line"))
    return series


def chart_runs(queryset: QuerySet[MaintenanceRun], *, now: datetime) -> list[Chart]:
    """Charts of the newest CHART_MAX_RUNS runs of `queryset` in the chart's window."""
    window = queryset.filter(
        started_at__gte=now - timedelta(days=CHART_DAYS), started_at__lte=now
    ).order_by("-started_at", "-id")[:CHART_MAX_RUNS]
    return charts_for(window, now=now)
