"""The health states of beat entries and their JSON (the rule: maintenance/health.py)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

OK = "OK"
STALE = "STALE"
PENDING = "PENDING"
MISCONFIGURED = "MISCONFIGURED"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


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


@dataclass(frozen=True)
class HealthReport:
    """The health of every beat entry at `checked_at`."""

    checked_at: datetime
    tasks: tuple[TaskHealth, ...]
    started_at: datetime | None = None

    @property
    def healthy(self) -> bool:
        return all(task.status in (OK, PENDING) for task in self.tasks)

    def label(self, task: TaskHealth) -> str:
        """The task's name, or its beat entry's when the task has several (one per web host)."""
        shared = sum(other.task == task.task for other in self.tasks) > 1
        return task.entry if shared else task.task

    def problems(self) -> str:
        """One line naming each stale or misconfigured task and why ('' when healthy)."""
        return "; ".join(
            f"{self.label(task)} {task.status}: {task.reason}"
            for task in self.tasks
            if task.status in (STALE, MISCONFIGURED)
        )

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
