"""The cleanup's rules along one walk: what is old, kept, deleted, skipped and counted."""

import errno
import os
from collections.abc import Callable, Collection
from fnmatch import fnmatchcase

from loguru import logger

from maintenance.media.walk import _DELETABLE, _S_IFDIR, _S_IFMT, Level, Walk, Where, is_busy

_GLOB_CHARS = frozenset("*?[")
# Within one directory, `should_stop` is polled once per this many entries scanned (a
# power of two: the test is a mask), so a large flat folder stops soon after it is asked.
STOP_POLL_ENTRIES = 1024
PROGRESS_EVERY = 4096  # entries between two calls of a progress callback inside one folder
# The two calls that change the tree, as this module's own names: a test injects a fault
# by replacing them here, not `os.unlink` for the whole process.
unlink = os.unlink
rmdir = os.rmdir


class Sweep:
    """The rules applied along one walk: what is old, kept, deleted, skipped, counted."""

    def __init__(
        self,
        summary,
        cutoff_ns: int,
        keep: Collection[str],
        dry_run: bool,
        should_stop: Callable[[], bool],
        progress: Callable[[object], None] | None = None,
    ) -> None:
        self.summary, self.cutoff_ns, self.dry_run = summary, cutoff_ns, dry_run
        self.should_stop, self.progress = should_stop, progress
        self.keep_names = frozenset(p for p in keep if _GLOB_CHARS.isdisjoint(p))
        self.keep_globs = tuple(p for p in keep if not _GLOB_CHARS.isdisjoint(p))

    def run(self, walk: Walk) -> None:
        """Walk depth-first, removing emptied old directories bottom-up.

        The loop over entries is the hot path (one `fstatat` per entry, one `unlinkat` per
        old file, as GNU find does), so it is written flat: rarer cases call out to methods.
        """
        cutoff_ns, root_dev, dry_run = self.cutoff_ns, walk.root_dev, self.dry_run
        unlink_at = unlink  # bound once per run, not looked up per old file
        kept = self._kept if self.keep_globs else self.keep_names.__contains__
        every = PROGRESS_EVERY if self.progress else 0  # never reached: one int compare either way
        if walk.probe is None:
            logger.warning(
                "this system cannot tell mount points by mount id (no statx, no "
                "/proc/self/fdinfo): only mounts of other filesystems are skipped"
            )
        stack = walk.stack
        while stack:
            if self.should_stop():  # open folders keep what they hold; none is removed
                self._stop(walk)
                return
            top = stack[-1]
            fd, scanned, deleted, freed, stays = top.fd, 0, 0, 0, False
            for entry in top.entries:
                if scanned and not scanned & (STOP_POLL_ENTRIES - 1) and self.should_stop():
                    self._count(scanned, deleted, freed)  # a stopped run removes no folder
                    self._stop(walk)  # this entry and the rest of the folder stay as they are
                    return
                name = entry.name
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # vanished since the listing: nothing left to do
                except OSError as exc:
                    self._error("cannot stat", walk.where(name), exc)
                    stays = True
                    continue
                scanned += 1
                if scanned == every:  # fold the counts so far into the summary, report
                    self._count(scanned, deleted, freed)
                    scanned, deleted, freed = 0, 0, 0
                    self.progress(self.summary)
                kind = st.st_mode & _S_IFMT
                if st.st_dev != root_dev:
                    self._skip_mount(walk.where(name))
                    stays = True
                elif kind in _DELETABLE:
                    if st.st_mtime_ns >= cutoff_ns or kept(name):
                        stays = True
                        continue
                    if dry_run:
                        logger.debug("would delete {}", walk.where(name))
                    else:
                        try:
                            unlink_at(name, dir_fd=fd)
                        except FileNotFoundError:
                            continue  # removed by someone else between scan and unlink
                        except OSError as exc:
                            self._unlink_failed(walk.where(name), exc)
                            stays = True
                            continue
                    deleted += 1
                    freed += st.st_size
                elif kind == _S_IFDIR:
                    child = walk.descend(name, st, cutoff_ns)
                    if child is True:
                        continue
                    if type(child) is Level:
                        break
                    self._not_entered(walk.where(name), child)
                    stays = True
                else:
                    self._skip_special(walk.where(name))
                    stays = True
            else:
                if top.problem is not None:  # the listing broke off: the rest stays
                    self._error("cannot list", walk.where(), top.problem)
                    stays = True
                top.stays = top.stays or stays
                self._count(scanned, deleted, freed)
                if self.progress is not None:
                    self.progress(self.summary)
                parent = walk.ascend(self._lost)
                if parent is not None and not self._remove_dir(walk, parent, top):
                    parent.stays = True
                continue
            top.stays = top.stays or stays  # left for the child: count what this level did so far
            self._count(scanned, deleted, freed)

    def _stop(self, walk: Walk) -> None:
        self.summary.completed = False
        logger.info("clean_generated_media stopped as asked in {}", walk.where())

    def _count(self, scanned: int, deleted: int, freed: int) -> None:
        self.summary.scanned += scanned
        self.summary.deleted += deleted
        self.summary.bytes_freed += freed

    def _kept(self, name: str) -> bool:
        return name in self.keep_names or any(fnmatchcase(name, p) for p in self.keep_globs)

    def _remove_dir(self, walk: Walk, parent: Level, done: Level) -> bool:
        """Remove a finished subdirectory if it is now empty and was old; True when gone."""
        if done.stays or not done.was_old or self._kept(done.name):
            return False
        where = walk.where(done.name)
        if self.dry_run:
            logger.debug("would remove directory {}", where)
        else:
            try:
                rmdir(done.name, dir_fd=parent.fd)
            except FileNotFoundError:
                return True
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    logger.info("keeping {}: new entries appeared in it during the run", where)
                    return False
                self._error("cannot remove directory", where, exc)
                return False
            logger.debug("removed directory {}", where)
        self.summary.dirs_removed += 1
        return True

    def _not_entered(self, where: Where, why: "str | tuple[str, OSError]") -> None:
        if why == "mount":
            self._skip_mount(where)
        elif why == "replaced":
            logger.warning("skipping {}: replaced by something else during the run", where)
            self.summary.skipped += 1
        else:
            self._error(why[0], where, why[1])

    def _unlink_failed(self, where: Where, exc: OSError) -> None:
        if is_busy(exc):  # a file mount point: unlink cannot remove it, and must not try
            self._skip_mount(where)
        else:
            self._error("cannot delete", where, exc)

    def _lost(self, where: str, exc: OSError | None) -> None:
        logger.warning(
            "cannot return to {}: {}; the rest of it is left for the next run",
            where,
            exc.strerror if exc is not None else "it was moved during the run",
        )
        self.summary.errors += 1

    def _skip_mount(self, where: Where) -> None:  # the caller counts it as staying
        logger.warning("skipping {}: another filesystem is mounted there", where)
        self.summary.skipped += 1

    def _skip_special(self, where: Where) -> None:
        logger.info("skipping {}: not a regular file, symlink or directory", where)
        self.summary.skipped += 1

    def _error(self, what: str, where: Where, exc: OSError) -> None:
        logger.warning("{} {}: {}", what, where, exc.strerror or exc)
        self.summary.errors += 1
