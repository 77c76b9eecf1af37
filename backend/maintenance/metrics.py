"""Prometheus metrics of periodic maintenance, read from the run history at scrape time.

A custom collector (prometheus_client's pattern for values that live elsewhere) rather
than counters the task increments in memory: the history is in the database, so every
web process reports the same values, whichever worker ran the task and however often
anything restarted. Dry runs are left out: they change nothing. Names and meanings:
docs/periodic-tasks.md, "Prometheus metrics".
"""

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from statistics import median

from django.db.models import Count, QuerySet
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)

from maintenance.figures import RunFigures, figures_of
from maintenance.health import last_successes, maintenance_health
from maintenance.health_report import OK, HealthReport
from maintenance.models import MaintenanceRun, PrunedRuns

BASELINE_RUNS = 10  # earlier successful runs whose median duration is the baseline
OUTCOMES = tuple(MaintenanceRun.Outcome.values)

# The last run's counts: (metric name, help, the figure). Absent for a run without it.
LAST_RUN_COUNTS: tuple[tuple[str, str, Callable[[RunFigures], int | None]], ...] = (
    ("last_run_deleted_files", "Files the last run deleted.", lambda f: f.deleted_files),
    ("last_run_freed_bytes", "Bytes the last run freed.", lambda f: f.freed_bytes),
    (
        "last_run_deleted_tokens",
        "Outstanding tokens the last run deleted.",
        lambda f: f.outstanding_deleted,
    ),
    (
        "last_run_deleted_blacklisted_tokens",
        "Blacklist rows the last run deleted.",
        lambda f: f.blacklisted_deleted,
    ),
    ("last_run_undecodable_tokens", "Tokens the last run could not read.", lambda f: f.undecodable),
    ("last_run_errors", "Entries the last run failed to delete.", lambda f: f.errors),
)


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = ("task",)) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"maintenance_{name}", documentation, labels=labels)


def _figures(run: MaintenanceRun) -> RunFigures:
    return figures_of(run.summary, started_at=run.started_at, finished_at=run.finished_at)


class RunHistoryCollector:
    """Collects every metric at scrape time from the history and the beat schedule."""

    def __init__(self, *, clock: Callable[[], datetime], beat_schedule: Callable[[], Mapping]):
        self.clock = clock
        self.beat_schedule = beat_schedule

    def collect(self) -> Iterator[Metric]:
        real = MaintenanceRun.objects.filter(dry_run=False)
        health = maintenance_health(now=self.clock(), beat_schedule=self.beat_schedule())
        tasks = sorted({t.task for t in health.tasks} | set(real.values_list("task", flat=True)))
        yield from self._health(health)
        yield self._runs_total(real)
        last_success = _gauge(
            "last_success_timestamp_seconds", "When the last ok run finished (Unix time)."
        )
        for task, finished_at in sorted(last_successes(set(tasks)).items()):
            last_success.add_metric([task], finished_at.timestamp())
        yield last_success
        last = {
            task: real.filter(task=task).order_by("-started_at", "-id").first() for task in tasks
        }
        yield from self._last_runs({task: run for task, run in last.items() if run is not None})
        yield self._baseline(real, last)

    def _health(self, health: HealthReport) -> Iterator[Metric]:
        healthy = _gauge("task_healthy", "1 when the task succeeded recently enough, else 0.")
        max_age = _gauge(
            "task_max_age_seconds",
            "How old the last success may be before the task is stale (period + 6 h).",
        )
        for task in sorted({t.task for t in health.tasks}):
            entries = [t for t in health.tasks if t.task == task]
            healthy.add_metric([task], float(all(t.status == OK for t in entries)))
            max_age.add_metric([task], min(t.max_age.total_seconds() for t in entries))
        yield healthy
        yield max_age

    def _runs_total(self, real: QuerySet[MaintenanceRun]) -> Metric:
        counts: dict[tuple[str, str], int] = {}
        for row in real.values("task", "outcome").annotate(n=Count("id")).order_by():
            counts[row["task"], row["outcome"]] = row["n"]
        for row in PrunedRuns.objects.values("task", "outcome", "runs"):
            key = (row["task"], row["outcome"])
            counts[key] = counts.get(key, 0) + row["runs"]
        total = CounterMetricFamily(
            "maintenance_runs", "Real (not dry) runs by outcome.", labels=["task", "outcome"]
        )
        for task in sorted({task for task, _ in counts}):
            for outcome in OUTCOMES:  # every outcome, 0 included: rate() needs a start
                total.add_metric([task, outcome], counts.get((task, outcome), 0))
        return total

    def _last_runs(self, last: dict[str, MaintenanceRun]) -> Iterator[Metric]:
        outcome = _gauge(
            "last_run_outcome",
            "1 for the last run's outcome, 0 for the others.",
            ("task", "outcome"),
        )
        finished = _gauge("last_run_timestamp_seconds", "When the last run finished (Unix time).")
        duration = _gauge("last_run_duration_seconds", "How long the last run took.")
        counts = [(_gauge(name, text), figure) for name, text, figure in LAST_RUN_COUNTS]
        for task, run in sorted(last.items()):
            figures = _figures(run)
            for one in OUTCOMES:
                outcome.add_metric([task, one], float(run.outcome == one))
            finished.add_metric([task], run.finished_at.timestamp())
            duration.add_metric([task], figures.duration_s)
            for family, figure in counts:
                if figure(figures) is not None:
                    family.add_metric([task], figure(figures))
        yield from (outcome, finished, duration)
        yield from (family for family, _ in counts)

    def _baseline(
        self, real: QuerySet[MaintenanceRun], last: Mapping[str, MaintenanceRun | None]
    ) -> Metric:
        baseline = _gauge(
            "baseline_duration_seconds",
            f"Median duration of up to {BASELINE_RUNS} ok runs before the last run.",
        )
        for task, run in sorted(last.items()):
            if run is None:
                continue
            earlier = (
                real.filter(task=task, outcome=MaintenanceRun.Outcome.OK)
                .exclude(pk=run.pk)
                .filter(started_at__lte=run.started_at)
                .order_by("-started_at", "-id")[:BASELINE_RUNS]
            )
            durations = [_figures(r).duration_s for r in earlier]
            if durations:
                baseline.add_metric([task], median(durations))
        return baseline


def registry_for(collector: RunHistoryCollector) -> CollectorRegistry:
    """A registry of its own: the process-wide default one holds unrelated metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
