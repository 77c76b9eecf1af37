"""Age-based cleaning of the generated-media folder.

The walk works on directory file descriptors (`os.scandir(fd)`, `dir_fd=`, `O_NOFOLLOW`),
as systemd-tmpfiles does, so no path is ever resolved through a symlink: a directory
swapped for a link during the run cannot lead the run out of the root.
"""

import errno
import os
import stat
import time
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path

from loguru import logger

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_GLOB_CHARS = frozenset("*?[")
# What opening a former directory gives when it became a link (POSIX: ELOOP; Linux with
# O_DIRECTORY: ENOTDIR) or a non-directory (ENOTDIR).
_REPLACED = (errno.ELOOP, errno.ENOTDIR)


class MediaRootError(Exception):
    """The media root exists but cannot be cleaned at all: the run itself could not run."""


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

    An entry is old iff `now - st_mtime > max_age`, i.e. `st_mtime < now - max_age`
    (strict `<`, compared in integer nanoseconds): an entry exactly `max_age` old is kept,
    and so is one with a future mtime. This is not GNU `find -mtime +7`, which truncates
    ages to whole days and so means "8 days or more"; the guide says "older than 7 days",
    and the exact comparison keeps the rule free of rounding. Ages come from `lstat`, so a
    symlink is judged by its own mtime and its target is never touched. Directories are
    never followed through a link and never crossed into another filesystem. A
    subdirectory that this run leaves empty is removed when its mtime before the run was
    old. Names matching a `keep` pattern (fnmatch) are never deleted, and the root itself
    never is. Each item's error is logged and counted; the run goes on. `dry_run` deletes
    nothing and reports what a real run would delete.

    A missing root gives an empty summary and a warning. A root that exists but cannot be
    opened or listed (a regular file, no permission) raises `MediaRootError`.
    """
    if now.utcoffset() is None:  # naive, or a tzinfo that does not know its offset
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    started = time.perf_counter()
    resolved = os.path.realpath(root)  # a symlinked root is resolved once, here
    summary = MediaCleanupSummary(root=printable(resolved), dry_run=dry_run)
    try:
        root_fd = os.open(resolved, _DIR_FLAGS)
    except FileNotFoundError:
        logger.warning("generated media root {} does not exist; nothing to clean", summary.root)
        return _finish(summary, started)
    except OSError as exc:
        raise MediaRootError(
            f"cannot open generated media root {summary.root}: {exc.strerror or exc}"
        ) from exc
    sweep = _Sweep(
        summary=summary,
        cutoff_ns=_epoch_ns(now - max_age),
        keep=keep,
        root_dev=os.fstat(root_fd).st_dev,
        dry_run=dry_run,
    )
    sweep.run(root_fd, resolved)
    return _finish(summary, started)


def _epoch_ns(moment: datetime) -> int:
    """POSIX time of an aware datetime, in integer nanoseconds (exact to the microsecond)."""
    return (moment - datetime.fromtimestamp(0, moment.tzinfo)) // timedelta(microseconds=1) * 1000


def _finish(summary: MediaCleanupSummary, started: float) -> MediaCleanupSummary:
    summary.duration_s = round(time.perf_counter() - started, 6)
    logger.info("clean_generated_media summary: {}", summary.as_dict())
    return summary


@dataclass
class _Dir:
    """One open directory of the walk: its listing is consumed as the walk goes on."""

    fd: int
    path: str
    entries: Iterator[os.DirEntry]
    name: str = ""  # name in the parent, for rmdir; "" for the root
    was_old: bool = False  # mtime before the run, as the parent's listing saw it
    remaining: int = 0  # entries that stay, so this directory is not empty


@dataclass
class _Sweep:
    summary: MediaCleanupSummary
    cutoff_ns: int  # old means st_mtime_ns < cutoff_ns
    keep: Collection[str]
    root_dev: int
    dry_run: bool
    keep_names: frozenset[str] = field(init=False)
    keep_globs: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.keep_names = frozenset(p for p in self.keep if _GLOB_CHARS.isdisjoint(p))
        self.keep_globs = tuple(p for p in self.keep if not _GLOB_CHARS.isdisjoint(p))

    def run(self, root_fd: int, root_path: str) -> None:
        """Walk the tree below `root_fd` depth-first, removing emptied directories bottom-up.

        The walk is iterative, so a deep tree costs no Python recursion; each level keeps
        one directory descriptor open for `dir_fd=` calls until its subtree is done.
        """
        try:
            entries = list(os.scandir(root_fd))
        except OSError as exc:
            os.close(root_fd)
            raise MediaRootError(
                f"cannot list generated media root {printable(root_path)}: {exc.strerror or exc}"
            ) from exc
        stack = [_Dir(fd=root_fd, path=root_path, entries=iter(entries))]
        try:
            while stack:
                top = stack[-1]
                for entry in top.entries:
                    child = self._visit(top, entry)
                    if child is not None:
                        stack.append(child)
                        break
                else:
                    stack.pop()
                    os.close(top.fd)
                    if stack and not self._remove_dir(stack[-1], top):
                        stack[-1].remaining += 1
        finally:
            for left in stack:  # only after an unexpected exception
                os.close(left.fd)

    def _visit(self, parent: _Dir, entry: os.DirEntry) -> _Dir | None:
        """Handle one entry; return the opened subdirectory when the walk must descend."""
        name = entry.name
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            return None  # vanished since the listing: nothing left to do
        except OSError as exc:
            self._error("cannot stat", f"{parent.path}/{name}", exc)
            parent.remaining += 1
            return None
        self.summary.scanned += 1
        mode = st.st_mode
        if st.st_dev != self.root_dev:
            logger.warning(
                "skipping {}: another filesystem is mounted there",
                printable(f"{parent.path}/{name}"),
            )
            self.summary.skipped += 1
        elif stat.S_ISDIR(mode):
            return self._open_subdir(parent, name, st)
        elif stat.S_ISREG(mode) or stat.S_ISLNK(mode):
            old = st.st_mtime_ns < self.cutoff_ns
            if old and not self._kept(name) and self._delete(parent, name, st):
                return None
        else:
            logger.info(
                "skipping {}: not a regular file, symlink or directory",
                printable(f"{parent.path}/{name}"),
            )
            self.summary.skipped += 1
        parent.remaining += 1
        return None

    def _delete(self, parent: _Dir, name: str, st: os.stat_result) -> bool:
        """Delete one old file or link; return True when it is gone (or would be)."""
        if self.dry_run:
            logger.debug("would delete {}", printable(f"{parent.path}/{name}"))
        else:
            try:
                os.unlink(name, dir_fd=parent.fd)
            except FileNotFoundError:
                return True  # removed by someone else between scan and unlink
            except OSError as exc:
                self._error("cannot delete", f"{parent.path}/{name}", exc)
                return False
            logger.debug("deleted {}", printable(f"{parent.path}/{name}"))
        self.summary.deleted += 1
        self.summary.bytes_freed += st.st_size
        return True

    def _open_subdir(self, parent: _Dir, name: str, st: os.stat_result) -> _Dir | None:
        """Open and list one subdirectory to descend into, or count why not."""
        path = f"{parent.path}/{name}"
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent.fd)
        except FileNotFoundError:
            return None  # removed by someone else since the listing
        except OSError as exc:
            if exc.errno in _REPLACED:
                self._replaced(parent, path)
            else:
                self._error("cannot open", path, exc)
                parent.remaining += 1
            return None
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)
            self._replaced(parent, path)
            return None
        try:
            entries = list(os.scandir(fd))
        except OSError as exc:
            os.close(fd)
            self._error("cannot list", path, exc)
            parent.remaining += 1
            return None
        return _Dir(
            fd=fd,
            path=path,
            entries=iter(entries),
            name=name,
            was_old=st.st_mtime_ns < self.cutoff_ns,  # before this run touched it
        )

    def _remove_dir(self, parent: _Dir, done: _Dir) -> bool:
        """Remove a finished subdirectory if it is now empty and was old; True when gone."""
        if done.remaining or not done.was_old or self._kept(done.name):
            return False
        if self.dry_run:
            logger.debug("would remove directory {}", printable(done.path))
        else:
            try:
                os.rmdir(done.name, dir_fd=parent.fd)
            except FileNotFoundError:
                return True
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    return False  # something was written into it during the run
                self._error("cannot remove directory", done.path, exc)
                return False
            logger.debug("removed directory {}", printable(done.path))
        self.summary.dirs_removed += 1
        return True

    def _kept(self, name: str) -> bool:
        return name in self.keep_names or any(fnmatchcase(name, p) for p in self.keep_globs)

    def _replaced(self, parent: _Dir, path: str) -> None:
        logger.warning("skipping {}: replaced by something else during the run", printable(path))
        self.summary.skipped += 1
        parent.remaining += 1

    def _error(self, what: str, path: str, exc: OSError) -> None:
        logger.warning("{} {}: {}", what, printable(path), exc.strerror or exc)
        self.summary.errors += 1
