"""The figures of one run, read from its history row: what the admin and the metrics show.

A summary is JSON written by an earlier version of the code, or none at all (a failed
run), so every figure is read defensively: a field that is absent or not a number is
None ("nothing to show"), never an error.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RunFigures:
    """What one run did; None where its summary has no such figure."""

    deleted_files: int | None
    freed_bytes: int | None
    blacklisted_deleted: int | None
    outstanding_deleted: int | None
    undecodable: int | None
    errors: int | None
    duration_s: float


def _count(summary: dict[str, Any], key: str) -> int | None:
    value = summary.get(key)
    # bool is an int in Python; a true/false is no count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def figures_of(summary: Any, *, started_at: datetime, finished_at: datetime) -> RunFigures:
    """Return the figures of a run from its summary (None or not a dict: a failed run).

    The duration is the row's wall time (finished - started), which a failed run has too.
    """
    fields = summary if isinstance(summary, dict) else {}
    return RunFigures(
        deleted_files=_count(fields, "deleted"),
        freed_bytes=_count(fields, "bytes_freed"),
        blacklisted_deleted=_count(fields, "blacklisted_deleted"),
        outstanding_deleted=_count(fields, "outstanding_deleted"),
        undecodable=_count(fields, "undecodable"),
        errors=_count(fields, "errors"),
        duration_s=max(0.0, (finished_at - started_at).total_seconds()),
    )


def human_duration(seconds: float) -> str:
    """'0.4 s', '12 s', '3 min 05 s', '2 h 07 min': short, and exact where it matters."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
