"""The walk: depth-first on directory descriptors, one `fstatat` and one `unlinkat` per entry.

Like systemd-tmpfiles and GNU find's fts, the walk never resolves a path: it lists a
directory's descriptor, stats and unlinks by name relative to it, and opens a child with
`O_NOFOLLOW | O_DIRECTORY`, checking that the descriptor is the directory it listed
(device and inode) and on the root's mount (mount id: a bind mount of the same filesystem
is skipped like any other mount). A folder is read as it is walked, never listed whole,
so memory stays flat in folder size; it is linear in depth: a level keeps its
descriptor, its name and its place in its listing; a path is joined only for a line
that is logged. At most MAX_OPEN_DIRS descriptors are held: deeper, the shallowest are
closed, and a level is reopened on the way back up through its child's `..`, checked
against the device and inode it had (as fts does), so any depth is cleaned within any
open-file limit; the rest of a closed level's listing is read before it closes.
"""

import errno
import os
import resource
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from maintenance.media import mounts
from maintenance.media.root import DIR_FLAGS, REPLACED, printable

_S_IFMT, _S_IFDIR, _S_IFREG, _S_IFLNK = 0o170000, 0o040000, 0o100000, 0o120000
_DELETABLE = frozenset((_S_IFREG, _S_IFLNK))  # regular files and symlinks
# Directory descriptors held at once, at most; fewer under a low open-file limit.
MAX_OPEN_DIRS = 64


def open_dirs_budget() -> int:
    """How many directory descriptors the walk may hold: MAX_OPEN_DIRS, or 1/8 of the limit."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(2, min(MAX_OPEN_DIRS, soft // 8))


@dataclass(slots=True)
class Level:
    """One directory of the walk: its descriptor (None while closed) and what is left of it."""

    fd: int | None
    name: str  # name in the parent; the root's path for the root
    ident: tuple[int, int] | None = None  # device and inode, to recognise it when reopened
    entries: Iterator = field(default_factory=lambda: iter(()))  # its listing, once read
    was_old: bool = False  # mtime before the run, as the parent's listing saw it
    stays: bool = False  # an entry of it stays, so it is not emptied
    problem: OSError | None = None  # an error that ended its listing early


def listing(entries: Iterator, level: Level) -> Iterator:
    """Yield a folder's entries as the kernel returns them; a read error ends it on `level`."""
    try:
        yield from entries
    except OSError as exc:
        level.problem = exc


class Named:
    """A listed name whose directory was reopened: stats through the new descriptor."""

    __slots__ = ("fd", "name")

    def __init__(self, fd: int, name: str) -> None:
        self.fd, self.name = fd, name

    def stat(self, *, follow_symlinks: bool) -> os.stat_result:
        return os.stat(self.name, dir_fd=self.fd, follow_symlinks=follow_symlinks)


class Where:
    """A path below the root for a log line, joined only if the line is emitted."""

    __slots__ = ("depth", "levels", "name")

    def __init__(self, walk: "Walk", name: str | None) -> None:
        self.levels, self.depth, self.name = walk.stack, len(walk.stack), name

    def __format__(self, spec: str) -> str:
        names = [level.name for level in self.levels[: self.depth]]
        if self.name is not None:
            names.append(self.name)
        return printable("/".join(names))


class Walk:
    """One walk below an opened root; counts go to the `on_*` callbacks' owner."""

    def __init__(self, root_fd: int, root_path: str, *, budget: int) -> None:
        st = os.fstat(root_fd)
        self.root_dev, self.budget = st.st_dev, budget
        self.probe = mounts.PROBE
        self.root_mount = None if self.probe is None else self.probe(root_fd, st)
        self.stack = [Level(root_fd, root_path)]  # never closed, so never recognised
        self.lowest_open = 1  # levels 1 .. lowest_open - 1 are closed; the root never is

    def where(self, name: str | None = None) -> Where:
        return Where(self, name)

    def descend(
        self, name: str, st: os.stat_result, cutoff_ns: int
    ) -> "Level | bool | str | tuple[str, OSError]":
        """Open a listed subdirectory and push it.

        Return the new level; True if it is gone; or why it stays: "replaced" (by a link
        or another directory), "mount", or ("cannot open" / "cannot list", the error).
        """
        parent = self.stack[-1]
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=parent.fd)
        except FileNotFoundError:
            return True
        except OSError as exc:
            return "replaced" if exc.errno in REPLACED else ("cannot open", exc)
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)
            return "replaced"
        if self.root_mount is not None and self.probe(fd, opened) != self.root_mount:
            os.close(fd)
            return "mount"
        try:
            entries = os.scandir(fd)
        except OSError as exc:
            os.close(fd)
            return ("cannot list", exc)
        level = Level(fd, name, (st.st_dev, st.st_ino), was_old=st.st_mtime_ns < cutoff_ns)
        level.entries = listing(entries, level)
        self.stack.append(level)
        if len(self.stack) - self.lowest_open + 1 > self.budget:
            closing = self.stack[self.lowest_open]
            closing.entries = iter(list(closing.entries))  # its listing's descriptor closes too
            os.close(closing.fd)
            closing.fd = None
            self.lowest_open += 1
        return level

    def ascend(self, on_lost: Callable[[str, OSError | None], None]) -> Level | None:
        """Close the finished top level; return the parent, reopened if it was closed.

        None when the parent cannot be reopened as itself (moved during the run, or an
        error): `on_lost` is told once, and the walk goes on from the nearest open level.
        """
        done = self.stack.pop()
        if not self.stack:
            os.close(done.fd)
            return None
        parent = self.stack[-1]
        if parent.fd is not None:
            os.close(done.fd)
            return parent
        fd: int | None = None
        problem: OSError | None = None
        try:
            fd = os.open("..", DIR_FLAGS, dir_fd=done.fd)
        except OSError as exc:
            problem = exc
        os.close(done.fd)
        if fd is not None:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == parent.ident:
                parent.fd, parent.entries = fd, (Named(fd, e.name) for e in parent.entries)
                self.lowest_open = len(self.stack) - 1
                return parent
            os.close(fd)
        on_lost(format(self.where()), problem)
        # The closed levels are 1 .. lowest_open - 1, so none between the root and here can
        # be reached either: the walk goes on in the root, which is never removed.
        del self.stack[1:]
        self.lowest_open = 1
        return None

    def close_all(self) -> None:
        for level in self.stack:
            getattr(level.entries, "close", int)()  # an unfinished listing's descriptor
            if level.fd is not None:
                os.close(level.fd)
        self.stack.clear()


def is_busy(exc: OSError) -> bool:
    """unlink's EBUSY: the file is a mount point (a bind-mounted file)."""
    return exc.errno == errno.EBUSY
