"""Is periodic maintenance still happening? Computed from the run history and beat schedule.

A task is STALE when it never succeeded, or when its last success is older than its
period (the longest gap between consecutive fire times of its beat entry: 7 d for the
weekly media run, 1 d for the daily token run) plus a grace of 6 h, the same time a beat
message may wait for a worker before it expires. Strictly older: a success exactly
period + grace ago is still OK. Only real runs count as successes: `ok`, not dry runs.

A task that never succeeded is PENDING, not STALE, while its first fire time after the
system started, plus the same grace, has not passed: a fresh deployment is not unhealthy
for the week its weekly task waits. The system started when `migrate` first created the
maintenance tables (the `applied` time of this app's first migration in django_migrations),
which every deployment does before its first worker or web server.

A task is MISCONFIGURED, whatever its successes, when its latest run (real or dry) could
not find what it cleans (the media summary's `root_missing`); its reason says what.
The states and what to do about each: docs/periodic-tasks.md, "Health check".
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from celery.schedules import crontab, maybe_schedule, schedule
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Q

from maintenance.models import MaintenanceRun

GRACE = timedelta(hours=6)
OK = "OK"
STALE = "STALE"
PENDING = "PENDING"
MISCONFIGURED = "MISCONFIGURED"

_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_PERIOD_SAMPLE = 8  # fire times looked at to find the longest gap


# What a beat entry's "schedule" may be: Celery also takes seconds or a timedelta there.
EntrySchedule = schedule | timedelta | float


def _as_schedule(entry_schedule: EntrySchedule) -> schedule:
    """Turn seconds or a timedelta into the `schedule` beat makes of them (celery.beat)."""
    if isinstance(entry_schedule, timedelta | int | float):
        return maybe_schedule(entry_schedule)
    return entry_schedule  # not through maybe_schedule: it would reset the entry's app


def next_fire_times(
    entry_schedule: EntrySchedule, *, after: datetime, count: int
) -> list[datetime]:
    """Return the next `count` times, strictly after `after`, at which beat fires the entry.

    For a crontab this walks Celery's own `crontab.remaining_delta`, the arithmetic beat
    uses, so the listing cannot drift from what beat does. Times are in UTC.
    """
    entry_schedule = _as_schedule(entry_schedule)
    fires: list[datetime] = []
    at = after
    for _ in range(count):
        if isinstance(entry_schedule, crontab):
            last, delta, _now = entry_schedule.remaining_delta(at)
            at = last + delta
        elif type(entry_schedule) is schedule:
            at = at + entry_schedule.run_every
        else:
            raise TypeError(f"cannot compute fire times of {entry_schedule!r}")
        fires.append(at.astimezone(UTC))
    return fires


def period_of(entry_schedule: EntrySchedule, *, at: datetime) -> timedelta:
    """Return the longest gap between consecutive fire times of the entry after `at`."""
    fires = next_fire_times(entry_schedule, after=at, count=_PERIOD_SAMPLE)
    return max(later - earlier for earlier, later in pairwise(fires))


def describe_schedule(entry_schedule: EntrySchedule) -> str:
    """Return the schedule in words, with the cron fields: 'every Sunday at 03:00 UTC (…)'."""
    entry_schedule = _as_schedule(entry_schedule)
    if type(entry_schedule) is schedule:
        return f"every {entry_schedule.run_every}"
    if not isinstance(entry_schedule, crontab):
        return repr(entry_schedule)
    cron = entry_schedule
    fields = (
        _cron_field(cron.minute, 60),
        _cron_field(cron.hour, 24),
        _cron_field(cron.day_of_month, 31),
        _cron_field(cron.month_of_year, 12),
        _cron_field(cron.day_of_week, 7),
    )
    days, time = _days_in_words(cron), _time_in_words(cron)
    if time.startswith("every"):  # "every hour at minute 05", "every minute"
        when = time if days == "every day" else f"{days}, {time}"
    else:
        when = f"{days} {time}"
    return f"{when} {cron.tz} (cron: {' '.join(fields)})"


def _cron_field(values: set[int], size: int) -> str:
    return "*" if len(values) == size else ",".join(str(v) for v in sorted(values))


def _names(values: set[int], names: tuple[str, ...], offset: int) -> str:
    words = [names[v - offset] for v in sorted(values)]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _days_in_words(cron: crontab) -> str:
    every_dow = len(cron.day_of_week) == 7
    every_dom = len(cron.day_of_month) == 31
    months = (
        ""
        if len(cron.month_of_year) == 12
        else f" in {_names(cron.month_of_year, _MONTH_NAMES, 1)}"
    )
    if every_dow and every_dom:
        return "every day" + months
    parts = []
    if not every_dow:
        parts.append("every " + _names(cron.day_of_week, _DAY_NAMES, 0))
    if not every_dom:
        parts.append("on day " + ", ".join(map(str, sorted(cron.day_of_month))) + " of the month")
    return " or ".join(parts) + months  # cron ORs day-of-week and day-of-month


def _time_in_words(cron: crontab) -> str:
    minutes, hours = sorted(cron.minute), sorted(cron.hour)
    if len(hours) == 24 and len(minutes) == 60:
        return "every minute"
    if len(hours) == 24:
        return "every hour at minute " + ", ".join(f"{m:02d}" for m in minutes)
    times = [f"{h:02d}:{m:02d}" for h in hours for m in minutes]
    return "at " + ", ".join(times)


@dataclass(frozen=True)
class TaskHealth:
    """The health of one beat entry's task at one moment."""

    entry: str
    task: str
    last_success: datetime | None
    next_due: datetime
    max_age: timedelta  # period + grace
    status: str
    pending_until: datetime | None = None  # never succeeded: first fire since start + grace
    misconfigured: str | None = None  # why, when MISCONFIGURED

    @property
    def stale_after(self) -> datetime | None:
        return None if self.last_success is None else self.last_success + self.max_age

    @property
    def reason(self) -> str:
        if self.misconfigured is not None:
            return self.misconfigured
        if self.status == PENDING:
            return f"never ran yet; stale if still so after {_iso(self.pending_until)}"
        if self.last_success is None:
            return "never succeeded since the system started"
        return f"last success {_iso(self.last_success)}; stale after {_iso(self.stale_after)}"

    def as_dict(self) -> dict:
        return {
            "entry": self.entry,
            "task": self.task,
            "status": self.status,
            "reason": self.reason,
            "last_success": _iso(self.last_success),
            "next_due": _iso(self.next_due),
            "stale_after": _iso(self.stale_after),
            "max_age_s": int(self.max_age.total_seconds()),
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class HealthReport:
    """The health of every beat entry at `checked_at`."""

    checked_at: datetime
    tasks: tuple[TaskHealth, ...]
    started_at: datetime | None = None

    @property
    def healthy(self) -> bool:
        return all(task.status in (OK, PENDING) for task in self.tasks)

    def as_dict(self) -> dict:
        statuses = {task.status for task in self.tasks}
        if MISCONFIGURED in statuses:
            overall = "misconfigured"
        elif not self.healthy:
            overall = "stale"
        else:
            overall = "pending" if PENDING in statuses else "ok"
        return {
            "status": overall,
            "checked_at": self.checked_at.astimezone(UTC).isoformat(),
            "started_at": _iso(self.started_at),
            "tasks": [task.as_dict() for task in self.tasks],
        }


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


def last_entry_successes(beat_schedule: Mapping[str, Mapping]) -> dict[str, datetime]:
    """Return when each beat entry last had a real (not dry) run that ended ok.

    A beat run counts for the entry it was sent for (its row names it). A run that names
    none (`celery call`, a command) counts for its task's entry only when the task has a
    single entry: with one media entry per web host, a run that names no host proves none.
    """
    entries_per_task = Counter(entry["task"] for entry in beat_schedule.values())
    latest: dict[str, datetime] = {}
    for name, entry in beat_schedule.items():
        which = Q(beat_entry=name)
        if entries_per_task[entry["task"]] == 1:
            which |= Q(beat_entry="")
        finished_at = _last_ok(which & Q(task=entry["task"]))
        if finished_at is not None:
            latest[name] = finished_at
    return latest


def misconfigurations(tasks: set[str]) -> dict[str, str]:
    """Return why each of `tasks` whose latest run found nothing to clean is misconfigured."""
    found: dict[str, str] = {}
    for task in sorted(tasks):
        latest = (
            MaintenanceRun.objects.filter(task=task)
            .order_by("-finished_at", "-id")
            .values_list("summary", "finished_at")
            .first()
        )
        if latest is not None and (latest[0] or {}).get("root_missing") is True:
            found[task] = (
                f"GENERATED_MEDIA_ROOT {latest[0].get('root')} does not exist "
                f"(run finished at {latest[1].astimezone(UTC).isoformat()})"
            )
    return found


def maintenance_health(
    *, now: datetime, beat_schedule: Mapping[str, Mapping], grace: timedelta = GRACE
) -> HealthReport:
    """Judge every beat entry at `now` on its own runs: last success, next due time, and
    OK, PENDING, STALE or MISCONFIGURED."""
    tasks = {entry["task"] for entry in beat_schedule.values()}
    successes = last_entry_successes(beat_schedule)
    started_at = system_started_at()
    wrong = misconfigurations(tasks)
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
        misconfigured = wrong.get(entry["task"])
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
