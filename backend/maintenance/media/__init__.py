"""Age-based cleaning of the generated-media folder, which never leaves its root.

`root.py` refuses dangerous roots and opens the root without following an ancestor's
symlink; `walk.py` walks it on descriptors within any depth and open-file limit;
`mounts.py` tells mount points by mount id. The rules and their reasons:
docs/periodic-tasks.md, "Safety".
"""

import os
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from loguru import logger

from maintenance.media.root import (
    MediaRootError,
    absolute_root,
    open_root,
    printable,
    refuse_dangerous_root,
)
from maintenance.media.sweep import Sweep
from maintenance.media.walk import Walk, listing, open_dirs_budget

__all__ = ["MediaCleanupSummary", "MediaRootError", "delete_old_media", "printable"]


@dataclass
class MediaCleanupSummary:
    """What one run of `delete_old_media` saw and did (or, in a dry run, would do)."""

    root: str
    scanned: int = 0
    deleted: int = 0
    bytes_freed: int = 0
    dirs_removed: int = 0
    skipped: int = 0
    errors: int = 0
    dry_run: bool = False
    completed: bool = True  # False when stopped before the end (`should_stop`)
    duration_s: float = 0.0
    root_missing: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def delete_old_media(
    *,
    root: Path,
    now: datetime,
    max_age: timedelta,
    dry_run: bool,
    keep: Collection[str] = (".gitkeep",),
    protected: Collection[tuple[str, str]] = (),
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[MediaCleanupSummary], None] | None = None,
) -> MediaCleanupSummary:
    """Delete regular files and symlinks under `root` whose age exceeds `max_age`.

    An entry is old iff `now - st_mtime > max_age`, i.e. `st_mtime < now - max_age`
    (strict `<`, compared in integer nanoseconds): an entry exactly `max_age` old is kept,
    and so is one with a future mtime. This is not GNU `find -mtime +7`, which truncates
    ages to whole days and so means "8 days or more"; the guide says "older than 7 days",
    and the exact comparison keeps the rule free of rounding. Ages come from `lstat`, so a
    symlink is judged by its own mtime and its target is never touched. Directories are
    never followed through a link and never entered across a mount point. A subdirectory
    that this run leaves empty is removed when its mtime before the run was old. Names
    matching a `keep` pattern (fnmatch) are never deleted, and the root itself never is.
    Each item's error is logged and counted; the run goes on. `dry_run` deletes nothing
    and reports what a real run would delete, each path logged at DEBUG; a real run logs
    its errors, skips and one summary line, not one line per deleted file.

    `should_stop` is polled before each directory is walked and every STOP_POLL_ENTRIES
    (sweep.py) entries within one; once it returns True the run ends early with
    `completed=False`: no directory is removed, nothing else is touched. `progress`, if
    given, is called with the summary so far after each directory, and every
    PROGRESS_EVERY (sweep.py) entries inside a large one.

    A dangerous root (`protected`: more (what, path) pairs that must not be inside it), a
    root that cannot be opened or listed, or one swapped while it is opened raises
    `MediaRootError`, in a dry run too. A missing root gives `root_missing: true` and a
    warning. `summary.root` is the directory actually cleaned.
    """
    if now.utcoffset() is None:  # naive, or a tzinfo that does not know its offset
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    started = time.perf_counter()
    path = absolute_root(root)
    refuse_dangerous_root(path, protected=protected)  # before anything is opened
    opened = open_root(path, protected=protected)
    if opened is None:
        summary = MediaCleanupSummary(root=printable(path), dry_run=dry_run, root_missing=True)
        logger.warning("generated media root {} does not exist; nothing to clean", summary.root)
        return _finish(summary, started)
    root_fd, cleaned = opened
    summary = MediaCleanupSummary(root=printable(cleaned), dry_run=dry_run)
    try:
        entries = os.scandir(root_fd)
    except OSError as exc:
        os.close(root_fd)
        raise MediaRootError(
            f"cannot list generated media root {summary.root}: {exc.strerror or exc}"
        ) from exc
    walk = Walk(root_fd, cleaned, budget=open_dirs_budget())
    walk.stack[0].entries = listing(entries, walk.stack[0])
    try:
        Sweep(summary, _epoch_ns(now - max_age), keep, dry_run, should_stop, progress).run(walk)
    finally:
        walk.close_all()
    return _finish(summary, started)


def _epoch_ns(moment: datetime) -> int:
    """POSIX time of an aware datetime, in integer nanoseconds (exact to the microsecond)."""
    return (moment - datetime.fromtimestamp(0, moment.tzinfo)) // timedelta(microseconds=1) * 1000


def _finish(summary: MediaCleanupSummary, started: float) -> MediaCleanupSummary:
    summary.duration_s = round(time.perf_counter() - started, 6)
    logger.info("clean_generated_media summary: {}", summary.as_dict())
    return summary
