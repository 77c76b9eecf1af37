"""Age-based cleaning of the generated-media folder.

The walk works on directory file descriptors (`os.scandir(fd)`, `dir_fd=`, `O_NOFOLLOW`),
as systemd-tmpfiles does, so no path is ever resolved through a symlink: a directory
swapped for a link during the run cannot lead the run out of the root.
"""

import errno
import os
import stat
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path

from loguru import logger

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_GLOB_CHARS = frozenset("*?[")
_S_IFMT, _S_IFDIR = 0o170000, stat.S_IFDIR
_DELETABLE = frozenset((stat.S_IFREG, stat.S_IFLNK))  # regular files and symlinks
# What opening a former directory gives when it became a link (POSIX: ELOOP; Linux with
# O_DIRECTORY: ENOTDIR) or a non-directory (ENOTDIR).
_REPLACED = (errno.ELOOP, errno.ENOTDIR)
# Old files of one directory handed to the unlink thread at a time. Smaller batches let
# the unlinks overlap the scan sooner; larger ones cost fewer hand-offs.
UNLINK_BATCH = 32


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
    completed: bool = True  # False when stopped before the end (`should_stop`)
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
    should_stop: Callable[[], bool] = lambda: False,
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
    nothing and reports what a real run would delete, each path logged at DEBUG; a real
    run logs its errors, skips and one summary line, not one line per deleted file.

    `should_stop` is polled before each directory is walked; once it returns True the run
    ends early with `completed=False`: the old files already found in the open directories
    are unlinked and counted, no directory is removed, nothing else is touched.

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
        should_stop=should_stop,
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


class _Joined:
    """`parent/name` for a log line, joined and made printable only if the line is emitted."""

    __slots__ = ("name", "parent")

    def __init__(self, parent: str, name: str) -> None:
        self.parent, self.name = parent, name

    def __format__(self, spec: str) -> str:
        return printable(f"{self.parent}/{self.name}")


@dataclass
class _Unlinked:
    """What one batch of unlinks did: files gone, their bytes, and the failures."""

    deleted: int = 0
    freed: int = 0
    failed: list[tuple[str, OSError]] = field(default_factory=list)


def _unlink_batch(dir_fd: int, batch: list[tuple[str, int]]) -> _Unlinked:
    """Unlink each `(name, size)` of `batch` in the directory `dir_fd`; never raises OSError."""
    done = _Unlinked()
    for name, size in batch:
        try:
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            continue  # removed by someone else between scan and unlink
        except OSError as exc:
            done.failed.append((name, exc))
            continue
        done.deleted += 1
        done.freed += size
    return done


@dataclass
class _Dir:
    """One open directory of the walk: its listing is consumed as the walk goes on."""

    fd: int
    path: str
    entries: Iterator[os.DirEntry]
    name: str = ""  # name in the parent, for rmdir; "" for the root
    was_old: bool = False  # mtime before the run, as the parent's listing saw it
    remaining: int = 0  # entries that stay, so this directory is not empty
    doomed: list[tuple[str, int]] = field(default_factory=list)  # old files, not yet sent
    sent: list[Future] = field(default_factory=list)  # batches on the unlink thread

    def add(
        self, scanned: int, deleted: int, freed: int, remaining: int, to: MediaCleanupSummary
    ) -> None:
        """Fold the counts the hot loop kept in locals into this directory and the summary."""
        self.remaining += remaining
        to.scanned += scanned
        to.deleted += deleted
        to.bytes_freed += freed


@dataclass
class _Sweep:
    summary: MediaCleanupSummary
    cutoff_ns: int  # old means st_mtime_ns < cutoff_ns
    keep: Collection[str]
    root_dev: int
    dry_run: bool
    should_stop: Callable[[], bool]
    keep_names: frozenset[str] = field(init=False)
    keep_globs: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.keep_names = frozenset(p for p in self.keep if _GLOB_CHARS.isdisjoint(p))
        self.keep_globs = tuple(p for p in self.keep if not _GLOB_CHARS.isdisjoint(p))

    def run(self, root_fd: int, root_path: str) -> None:
        """Walk the tree below `root_fd` depth-first, removing emptied directories bottom-up.

        The walk is iterative, so a deep tree costs no Python recursion; each level keeps
        one directory descriptor open for `dir_fd=` calls until its subtree is done. The
        loop over entries is the hot path (one `fstatat` per entry, one `unlinkat` per old
        file, as GNU find does), so it is written flat: rarer cases call out to methods.

        Old files are unlinked in batches of UNLINK_BATCH on one background thread while
        the walk stats the next entries (the system calls release the GIL, so the two
        overlap); a smaller rest is unlinked in place. A directory is settled, its batches
        waited for and their outcomes counted and logged, before its descriptor is closed
        or its removal judged, so no batch ever runs on a closed or reused descriptor.
        """
        try:
            entries = list(os.scandir(root_fd))
        except OSError as exc:
            os.close(root_fd)
            raise MediaRootError(
                f"cannot list generated media root {printable(root_path)}: {exc.strerror or exc}"
            ) from exc
        summary, cutoff_ns, root_dev, dry_run = (
            self.summary,
            self.cutoff_ns,
            self.root_dev,
            self.dry_run,
        )
        kept = self._kept if self.keep_globs else self.keep_names.__contains__
        unlinker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clean-media-unlink")
        stack = [_Dir(fd=root_fd, path=root_path, entries=iter(entries))]
        try:
            while stack:
                if self.should_stop():
                    self._stop(stack)
                    break
                top = stack[-1]
                fd, doomed, scanned, deleted, freed, remaining = top.fd, top.doomed, 0, 0, 0, 0
                for entry in top.entries:
                    name = entry.name
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # vanished since the listing: nothing left to do
                    except OSError as exc:
                        self._error("cannot stat", _Joined(top.path, name), exc)
                        remaining += 1
                        continue
                    scanned += 1
                    kind = st.st_mode & _S_IFMT
                    if st.st_dev != root_dev:
                        self._skip_mount(top, name)
                        remaining += 1
                    elif kind in _DELETABLE:
                        if st.st_mtime_ns >= cutoff_ns or kept(name):
                            remaining += 1
                            continue
                        if dry_run:
                            logger.debug("would delete {}", _Joined(top.path, name))
                            deleted += 1
                            freed += st.st_size
                            continue
                        doomed.append((name, st.st_size))
                        if len(doomed) == UNLINK_BATCH:
                            top.sent.append(unlinker.submit(_unlink_batch, fd, doomed))
                            doomed = top.doomed = []
                    elif kind == _S_IFDIR:
                        child = self._open_subdir(top, name, st)
                        if child is True:
                            continue
                        if child is False:
                            remaining += 1
                            continue
                        top.add(scanned, deleted, freed, remaining, summary)
                        stack.append(child)
                        break
                    else:
                        self._skip_special(top, name)
                        remaining += 1
                else:
                    top.add(scanned, deleted, freed, remaining, summary)
                    self._settle(top)
                    stack.pop()
                    os.close(top.fd)
                    if stack and not self._remove_dir(stack[-1], top):
                        stack[-1].remaining += 1
        finally:
            # Only after an unexpected exception is anything left: first let the running
            # batch end (queued ones are dropped), then close the descriptors it used.
            unlinker.shutdown(wait=True, cancel_futures=True)
            for left in stack:
                os.close(left.fd)

    def _settle(self, done: _Dir) -> None:
        """Unlink the directory's rest, wait for its batches, and count and log what they did."""
        outcomes = [batch.result() for batch in done.sent]
        outcomes.append(_unlink_batch(done.fd, done.doomed))
        for outcome in outcomes:
            self.summary.deleted += outcome.deleted
            self.summary.bytes_freed += outcome.freed
            for name, exc in outcome.failed:
                self._error("cannot delete", _Joined(done.path, name), exc)
                done.remaining += 1

    def _stop(self, stack: list[_Dir]) -> None:
        """End the walk early: settle each open directory (its old files go), remove none."""
        for left in reversed(stack):
            self._settle(left)
        self.summary.completed = False
        logger.info("clean_generated_media stopped as asked in {}", printable(stack[-1].path))

    def _skip_mount(self, parent: _Dir, name: str) -> None:  # the caller counts it as staying
        logger.warning(
            "skipping {}: another filesystem is mounted there", _Joined(parent.path, name)
        )
        self.summary.skipped += 1

    def _skip_special(self, parent: _Dir, name: str) -> None:
        logger.info(
            "skipping {}: not a regular file, symlink or directory", _Joined(parent.path, name)
        )
        self.summary.skipped += 1

    def _open_subdir(self, parent: _Dir, name: str, st: os.stat_result) -> _Dir | bool:
        """Open and list one subdirectory to descend into.

        Return the opened directory, or else whether the entry is gone (True: removed by
        someone else since the listing) or stays (False: an error or a swap, counted).
        """
        path = f"{parent.path}/{name}"
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent.fd)
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno in _REPLACED:
                self._replaced(path)
            else:
                self._error("cannot open", path, exc)
            return False
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)
            self._replaced(path)
            return False
        try:
            entries = list(os.scandir(fd))
        except OSError as exc:
            os.close(fd)
            self._error("cannot list", path, exc)
            return False
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
                    logger.info(
                        "keeping {}: new entries appeared in it during the run",
                        printable(done.path),
                    )
                    return False
                self._error("cannot remove directory", done.path, exc)
                return False
            logger.debug("removed directory {}", printable(done.path))
        self.summary.dirs_removed += 1
        return True

    def _kept(self, name: str) -> bool:
        return name in self.keep_names or any(fnmatchcase(name, p) for p in self.keep_globs)

    def _replaced(self, path: str) -> None:
        logger.warning("skipping {}: replaced by something else during the run", printable(path))
        self.summary.skipped += 1

    def _error(self, what: str, path: "str | _Joined", exc: OSError) -> None:
        logger.warning(
            "{} {}: {}",
            what,
            path if isinstance(path, _Joined) else printable(path),
            exc.strerror or exc,
        )
        self.summary.errors += 1
