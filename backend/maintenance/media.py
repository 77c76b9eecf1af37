"""Age-based cleaning of the generated-media folder.

The walk works on directory file descriptors (`os.scandir(fd)`, `dir_fd=`, `O_NOFOLLOW`),
as systemd-tmpfiles does, so no path is ever resolved through a symlink: a directory
swapped for a link during the run cannot lead the run out of the root.
"""

import errno
import os
import stat
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path

from loguru import logger

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


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
    duration_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def printable(path: str) -> str:
    """Return `path` safe for a UTF-8 log: undecodable bytes shown as `\\xNN` escapes."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def delete_old_media(
    *,
    root: Path,
    now: datetime,
    max_age: timedelta,
    dry_run: bool,
    keep: Collection[str] = (".gitkeep",),
) -> MediaCleanupSummary:
    """Delete regular files and symlinks under `root` whose age exceeds `max_age`.

    An entry is old iff `now - st_mtime > max_age`, i.e. `st_mtime < now - max_age`: an
    entry exactly `max_age` old is kept, and so is one with a future mtime. This is not
    GNU `find -mtime +7`, which rounds ages down to whole days and so means "8 days or
    more"; the guide says "older than 7 days", and the exact comparison keeps the rule
    free of rounding. Ages come from `lstat`, so a symlink is judged by its own mtime and
    its target is never touched. Directories are never followed through a link and never
    crossed into another filesystem. A subdirectory that this run leaves empty is removed
    when its mtime before the run was old. Names matching a `keep` pattern (fnmatch) are
    never deleted, and the root itself never is. Each item's error is logged and counted;
    the run goes on. `dry_run` deletes nothing and reports what a real run would delete.
    """
    started = time.perf_counter()
    resolved = Path(os.path.realpath(root))  # a symlinked root is resolved once, here
    summary = MediaCleanupSummary(root=printable(str(resolved)), dry_run=dry_run)
    try:
        root_fd = os.open(resolved, _DIR_FLAGS)
    except FileNotFoundError:
        logger.warning("generated media root {} does not exist; nothing to clean", summary.root)
        return _finish(summary, started)
    try:
        sweep = _Sweep(
            summary=summary,
            cutoff=now.timestamp() - max_age.total_seconds(),
            keep=tuple(keep),
            root_dev=os.fstat(root_fd).st_dev,
            dry_run=dry_run,
        )
        sweep.clean_dir(root_fd, summary.root)
    finally:
        os.close(root_fd)
    return _finish(summary, started)


def _finish(summary: MediaCleanupSummary, started: float) -> MediaCleanupSummary:
    summary.duration_s = round(time.perf_counter() - started, 6)
    logger.info("clean_generated_media summary: {}", summary.as_dict())
    return summary


@dataclass
class _Sweep:
    summary: MediaCleanupSummary
    cutoff: float  # POSIX seconds; older means st_mtime < cutoff
    keep: tuple[str, ...]
    root_dev: int
    dry_run: bool

    def clean_dir(self, dir_fd: int, dir_path: str) -> int:
        """Clean the directory open at `dir_fd`; return how many entries remain in it."""
        remaining = 0
        try:
            entries = list(os.scandir(dir_fd))
        except OSError as exc:
            self._error("cannot list", dir_path, exc)
            return 1
        for entry in entries:
            path = f"{dir_path}/{entry.name}"
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # vanished since the listing: nothing left to do
            except OSError as exc:
                self._error("cannot stat", path, exc)
                remaining += 1
                continue
            self.summary.scanned += 1
            if stat.S_ISDIR(st.st_mode):
                remaining += 0 if self._clean_subdir(dir_fd, entry.name, path, st) else 1
            elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                remaining += 0 if self._delete_file(dir_fd, entry.name, path, st) else 1
            else:
                logger.info("skipping {} (not a file, link or directory)", printable(path))
                self.summary.skipped += 1
                remaining += 1
        return remaining

    def _is_old(self, st: os.stat_result) -> bool:
        return st.st_mtime < self.cutoff

    def _delete_file(self, dir_fd: int, name: str, path: str, st: os.stat_result) -> bool:
        """Delete one old file or link; return True when it is gone (or would be)."""
        if not self._is_old(st) or self._kept(name):
            return False
        if not self.dry_run:
            try:
                os.unlink(name, dir_fd=dir_fd)
            except FileNotFoundError:
                return True  # removed by someone else between scan and unlink
            except OSError as exc:
                self._error("cannot delete", path, exc)
                return False
        self.summary.deleted += 1
        self.summary.bytes_freed += st.st_size
        return True

    def _clean_subdir(self, dir_fd: int, name: str, path: str, st: os.stat_result) -> bool:
        """Clean one subdirectory; return True when it is removed (or would be)."""
        if st.st_dev != self.root_dev:
            logger.warning("skipping {}: another filesystem is mounted there", printable(path))
            self.summary.skipped += 1
            return False
        was_old = self._is_old(st)  # judged on the mtime before this run touched it
        try:
            sub_fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            return True
        except OSError as exc:  # ELOOP: swapped for a symlink since the scan; EACCES
            self._error("cannot open", path, exc)
            return False
        try:
            opened = os.fstat(sub_fd)
            if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                logger.warning("skipping {}: replaced during the run", printable(path))
                self.summary.skipped += 1
                return False
            remaining = self.clean_dir(sub_fd, path)
        finally:
            os.close(sub_fd)
        if remaining or not was_old or self._kept(name):
            return False
        if not self.dry_run:
            try:
                os.rmdir(name, dir_fd=dir_fd)
            except FileNotFoundError:
                return True
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    return False  # something was written into it during the run
                self._error("cannot remove directory", path, exc)
                return False
        self.summary.dirs_removed += 1
        return True

    def _kept(self, name: str) -> bool:
        return any(fnmatchcase(name, pattern) for pattern in self.keep)

    def _error(self, what: str, path: str, exc: OSError) -> None:
        logger.warning("{} {}: {}", what, printable(path), exc.strerror or exc)
        self.summary.errors += 1
