"""Is periodic maintenance still happening? Each beat entry is OK, PENDING, STALE or
MISCONFIGURED, judged from its runs (the rule: docs/periodic-tasks.md, "Health check")."""

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Q

from maintenance.health_report import MISCONFIGURED, OK, PENDING, STALE, HealthReport, TaskHealth
from maintenance.models import MaintenanceRun
from maintenance.schedules import next_fire_times, period_of

GRACE = timedelta(hours=6)


def system_started_at() -> datetime | None:
    """When `migrate` first created the maintenance tables (None before it did)."""
    return (
        MigrationRecorder.Migration.objects.filter(app="maintenance")
        .order_by("applied")
        .values_list("applied", flat=True)
        .first()
    )


def _last_ok(which: Q) -> datetime | None:
    """When the latest real (not dry) run matching `which` ended ok; one indexed query."""
    return (
        MaintenanceRun.objects.filter(which, outcome=MaintenanceRun.Outcome.OK, dry_run=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )


def last_successes(tasks: set[str]) -> dict[str, datetime]:
    """Return when each of `tasks` last finished a real (not dry) run with outcome ok."""
    found = {task: _last_ok(Q(task=task)) for task in sorted(tasks)}
    return {task: at for task, at in found.items() if at is not None}


def entry_runs(beat_schedule: Mapping[str, Mapping]) -> dict[str, Q]:
    """Return which runs are each beat entry's own.

    A beat run is the entry's it was sent for (its row names it). A run that names none
    (`celery call`, a command) is its task's entry's only when the task has a single entry:
    with one media entry per web host, a run that names no host says nothing of any host.
    """
    entries_per_task = Counter(entry["task"] for entry in beat_schedule.values())
    runs: dict[str, Q] = {}
    for name, entry in beat_schedule.items():
        which = Q(beat_entry=name)
        if entries_per_task[entry["task"]] == 1:
            which |= Q(beat_entry="")
        runs[name] = which & Q(task=entry["task"])
    return runs


def last_entry_successes(beat_schedule: Mapping[str, Mapping]) -> dict[str, datetime]:
    """Return when each beat entry last had a real (not dry) run of its own that ended ok."""
    found = {name: _last_ok(which) for name, which in entry_runs(beat_schedule).items()}
    return {name: at for name, at in found.items() if at is not None}


def misconfigurations(beat_schedule: Mapping[str, Mapping]) -> dict[str, str]:
    """Return why each beat entry whose latest finished run found nothing to clean is
    misconfigured: one host's missing media root is that host's entry's alone."""
    found: dict[str, str] = {}
    # Still running, or a second beat's copy: neither has looked at the root yet.
    unseen = (MaintenanceRun.Outcome.RUNNING, MaintenanceRun.Outcome.DUPLICATE)
    for name, which in entry_runs(beat_schedule).items():
        latest = (
            MaintenanceRun.objects.filter(which)
            .exclude(outcome__in=unseen)
            .order_by("-finished_at", "-id")
            .values_list("summary", "finished_at")
            .first()
        )
        if latest is not None and (latest[0] or {}).get("root_missing") is True:
            found[name] = (
                f"GENERATED_MEDIA_ROOT {latest[0].get('root')} does not exist "
                f"(run finished at {latest[1].astimezone(UTC).isoformat()})"
            )
    return found


def maintenance_health(
    *, now: datetime, beat_schedule: Mapping[str, Mapping], grace: timedelta = GRACE
) -> HealthReport:
    """Judge every beat entry at `now` on its own runs: last success, next due time, and
    OK, PENDING, STALE or MISCONFIGURED."""
    successes = last_entry_successes(beat_schedule)
    started_at = system_started_at()
    wrong = misconfigurations(beat_schedule)
    report = []
    for name, entry in beat_schedule.items():
        max_age = period_of(entry["schedule"], at=now) + grace
        last = successes.get(name)
        pending_until = None
        if last is None and started_at is not None:
            first_due = next_fire_times(entry["schedule"], after=started_at, count=1)[0]
            pending_until = first_due + grace
        if last is not None:
            status = STALE if now - last > max_age else OK
        else:
            status = PENDING if pending_until is not None and now <= pending_until else STALE
        misconfigured = wrong.get(name)
        if misconfigured is not None:
            status = MISCONFIGURED
        report.append(
            TaskHealth(
                entry=name,
                task=entry["task"],
                last_success=last,
                next_due=next_fire_times(entry["schedule"], after=now, count=1)[0],
                max_age=max_age,
                status=status,
                pending_until=pending_until if status == PENDING else None,
                misconfigured=misconfigured,
            )
        )
    return HealthReport(checked_at=now, tasks=tuple(report), started_at=started_at)
