"""Where the media root is, whether it may be cleaned at all, and opening it safely.

Before anything is opened, `refuse_dangerous_root` refuses `/`, system folders, the
user's home and folders holding the project (as `rm --preserve-root` refuses `/`). Then
`open_root` opens the root from `/` one component at a time with `O_NOFOLLOW |
O_DIRECTORY`, so no symlink in an ancestor is ever followed, however it was swapped in:
a symlink there cannot be told from a swap, so it refuses the run. Only the root itself
may be a symlink (a configured link): it is read once, logged, and its target opened the
same way. Component by component rather than `openat2(RESOLVE_NO_SYMLINKS)`: it works on
every POSIX kernel and under pyfakefs, and a root has few components.
"""

import errno
import os
import stat
from collections.abc import Collection
from pathlib import Path

from loguru import logger

BACKEND_DIR = Path(__file__).resolve().parents[2]
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
# What opening a link with O_NOFOLLOW gives (POSIX: ELOOP; Linux with O_DIRECTORY:
# ENOTDIR), and opening a non-directory (ENOTDIR).
REPLACED = (errno.ELOOP, errno.ENOTDIR)
# The project's code: manage.py and the Python packages beside it (read once, at import).
CODE = (
    str(BACKEND_DIR / "manage.py"),
    *sorted(str(p) for p in BACKEND_DIR.iterdir() if (p / "__init__.py").is_file()),
)
SYSTEM_DIRS = frozenset(
    (
        *("/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32"),
        *("/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp"),
        *("/usr", "/usr/bin", "/usr/include", "/usr/lib", "/usr/lib64", "/usr/local"),
        *("/usr/sbin", "/usr/share", "/usr/src", "/var", "/var/backups", "/var/cache"),
        *("/var/lib", "/var/log", "/var/mail", "/var/opt", "/var/spool", "/var/tmp", "/var/www"),
        *("/Applications", "/Library", "/System", "/Users", "/Volumes", "/private"),
        *("/private/etc", "/private/tmp", "/private/var", "/dev/shm", "/dev/pts"),
    )
)
PSEUDO_FILESYSTEMS = ("/proc", "/sys")


class MediaRootError(Exception):
    """The media root cannot, or must not, be cleaned at all: the run itself could not run."""


def printable(path: str) -> str:
    """Return `path` safe for a UTF-8 log: undecodable bytes shown as `\\xNN` escapes."""
    return path.encode(errors="surrogateescape").decode(errors="backslashreplace")  # UTF-8


def absolute_root(root: str | os.PathLike, *, base: Path = BACKEND_DIR) -> str:
    """`root` as a normalized absolute path; a relative one is resolved against `base`, logged."""
    text = os.path.normpath(os.fspath(root))
    if os.path.isabs(text):
        return "/" + text.lstrip("/")  # normpath keeps a leading "//"
    resolved = os.path.normpath(os.path.join(base, text))
    logger.info(
        "GENERATED_MEDIA_ROOT {} is relative: resolved against {} to {}",
        printable(os.fspath(root)),
        base,
        printable(resolved),
    )
    return resolved


def _within(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def danger(path: str, *, protected: Collection[tuple[str, str]] = ()) -> str | None:
    """Why cleaning the absolute `path` would be dangerous, or None when it is not."""
    if path == "/":
        return "it is the filesystem root /"
    if path in SYSTEM_DIRS:
        return f"it is the system folder {path}"
    for pseudo in PSEUDO_FILESYSTEMS:
        if _within(path, pseudo):
            return f"it is inside the kernel's {pseudo}"
    home = os.path.expanduser("~")
    if os.path.isabs(home) and _within(home, path):  # "~" when there is no home
        return f"it is or contains the home folder {home}"
    for code in CODE:
        if _within(code, path) or _within(path, code):
            return f"it contains or is inside the project's code ({code})"
    for what, where in protected:
        if _within(where, path):
            return f"it contains {what} {where}"
    return None


def refuse_dangerous_root(path: str, *, protected: Collection[tuple[str, str]] = ()) -> None:
    """Raise MediaRootError, naming GENERATED_MEDIA_ROOT and why, if `path` is dangerous.

    Checked on the path as given and as it resolves through symlinks (nothing is opened).
    """
    try:
        real = os.path.realpath(path)
    except OSError:  # a link vanished under realpath (a race): the open will see it too
        real = path
    for candidate in dict.fromkeys((path, real)):
        reason = danger(candidate, protected=protected)
        if reason is not None:
            shown = printable(path) + ("" if candidate == path else f" (-> {printable(real)})")
            raise MediaRootError(f"GENERATED_MEDIA_ROOT={shown} is refused: {reason}")


def _kind(name: str, dir_fd: int) -> int:
    """The file type of `name` in `dir_fd` (S_IFLNK, S_IFDIR, ...), 0 when it is gone."""
    try:
        return stat.S_IFMT(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return 0


def _swapped(path: str, what: str) -> MediaRootError:
    return MediaRootError(
        f"GENERATED_MEDIA_ROOT={printable(path)} is refused: {printable(what)} changed "
        "while it was being opened (an ancestor swapped?), so nothing was cleaned"
    )


def _open_components(path: str, *, follow_last: bool) -> int | str | None:
    """Open `path` from `/` with no symlink followed: its descriptor, or, when its last
    component is a link and `follow_last`, the link's target; None when it is missing."""
    parts = [part for part in path.split("/") if part]
    fd = os.open("/", DIR_FLAGS)
    try:
        for depth, part in enumerate(parts, start=1):
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                here = "/" + "/".join(parts[:depth])
                kind = _kind(part, fd) if exc.errno in REPLACED else None
                if kind in (stat.S_IFDIR, 0):  # not a folder a moment ago, now one or gone
                    raise _swapped(path, here) from exc
                if kind != stat.S_IFLNK:
                    raise MediaRootError(
                        f"cannot open generated media root {printable(path)}: "
                        + (exc.strerror or str(exc))
                    ) from exc
                if depth < len(parts) or not follow_last:
                    raise MediaRootError(
                        f"GENERATED_MEDIA_ROOT={printable(path)} is refused: {printable(here)} "
                        "is a symlink (swapped in, or configured); only the root itself may be "
                        "a link, so nothing was cleaned: set the real path"
                    ) from exc
                try:
                    return os.readlink(part, dir_fd=fd)
                except OSError:  # no longer a link a moment later
                    raise _swapped(path, here) from exc
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_root(path: str, *, protected: Collection[tuple[str, str]] = ()) -> tuple[int, str] | None:
    """Open the absolute `path` as the walk's root: (descriptor, path cleaned), None if missing.

    A root that is itself a symlink is followed once (logged); its target is checked as
    dangerous or not before it is opened. The descriptor is checked against the path's
    device and inode: a swap between the two refuses the run.
    """
    opened = _open_components(path, follow_last=True)
    target = path
    if isinstance(opened, str):
        target = absolute_root(os.path.join(os.path.dirname(path), opened))
        logger.info(
            "generated media root {} is a symlink to {}: cleaning {}",
            printable(path),
            printable(opened),
            printable(target),
        )
        refuse_dangerous_root(target, protected=protected)
        opened = _open_components(target, follow_last=False)
    if opened is None:
        return None
    try:
        seen = os.stat(target, follow_symlinks=False)
    except OSError:
        seen = None
    held = os.fstat(opened)
    if seen is None or (seen.st_dev, seen.st_ino) != (held.st_dev, held.st_ino):
        os.close(opened)
        raise _swapped(path, target)
    return opened, target
