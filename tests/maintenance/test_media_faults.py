"""delete_old_media under injected faults: each item's error is isolated and counted.

A fault is one errno from one call at one exact step, injected through the cleanup's own
names for its calls (media_support.faults), never by patching `os` for the process."""

import errno
import os
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from maintenance.media import MediaRootError
from tests.clock import OLD
from tests.logs import logged, warnings
from tests.maintenance.fake_tree import ROOT as FAKE_ROOT
from tests.maintenance.fake_tree import as_non_root
from tests.maintenance.media_support import (
    AgeEntry,
    MakeFile,
    clean,
    counts,
    faults,
    notices,
    numbers,
)

# --- Permissions (pyfakefs as a non-root user, so permission bits count) ----------------


def test_directory_that_cannot_be_opened_is_one_error_and_the_rest_still_goes(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """EACCES on a directory (mode 000, owned by someone else), as the kernel reports it.

    Injected: as root the kernel ignores the bits, and pyfakefs answers ENOTDIR here.
    """
    locked_files = [
        make_media_file(media_root / "outer" / "locked" / f"{n}.png", age=OLD) for n in range(2)
    ]
    age_entry(media_root / "outer" / "locked", OLD)
    age_entry(media_root / "outer", OLD)  # stays: it still holds the locked folder
    others = [make_media_file(media_root / "open" / f"{n}.png", age=OLD) for n in range(2)]
    real_open = os.open

    def open_denied(name: str, flags: int, **kwargs: int) -> int:
        if name == "locked":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return real_open(name, flags, **kwargs)

    with faults(open=open_denied):
        summary = clean(media_root)

    assert all(path.exists() for path in locked_files)
    assert not any(path.exists() for path in others)
    assert (media_root / "outer" / "locked").is_dir()
    assert notices(logged(caplog)) == [
        f"WARNING cannot open {media_root}/outer/locked: Permission denied"
    ]
    assert counts(summary) == numbers(scanned=5, deleted=2, bytes_freed=20, errors=1)


@as_non_root
def test_old_empty_directory_in_a_read_only_parent_is_one_error(
    fs: FakeFilesystem,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    empty = FAKE_ROOT / "ro" / "empty"
    empty.mkdir(parents=True)
    age_entry(empty, OLD)
    os.chmod(FAKE_ROOT / "ro", 0o555)
    beside = make_media_file(FAKE_ROOT / "old.png", age=OLD)

    summary = clean(FAKE_ROOT)

    assert empty.is_dir()
    assert not beside.exists()
    assert warnings(logged(caplog)) == [
        f"WARNING cannot remove directory {FAKE_ROOT}/ro/empty: Permission denied"
    ]
    assert counts(summary) == numbers(scanned=3, deleted=1, bytes_freed=10, errors=1)


def test_unreadable_root_means_the_run_cannot_run(media_root: Path) -> None:
    """EACCES on the root, injected on the real filesystem: as root the kernel ignores the
    bits, and pyfakefs as another user answers ENOTDIR for any folder opened by descriptor."""
    real_open = os.open

    def open_denied(name: str, flags: int, **kwargs: int) -> int:
        if name == media_root.name:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return real_open(name, flags, **kwargs)

    with faults(open=open_denied), pytest.raises(MediaRootError) as raised:
        clean(media_root)

    assert str(raised.value) == f"cannot open generated media root {media_root}: Permission denied"


# --- Errors from single syscalls -------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS, errno.EIO],
    ids=["EACCES", "EPERM", "ENOSPC", "EROFS", "EIO"],
)
def test_unlink_failure_is_counted_logged_and_the_run_continues(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
    code: int,
) -> None:
    stuck = make_media_file(media_root / "b" / "stuck.png", age=OLD)
    others = [make_media_file(media_root / name, age=OLD) for name in ("a.png", "b/c.png", "d.png")]
    age_entry(media_root / "b", OLD)  # stays: it still holds the stuck file
    real_unlink = os.unlink

    def unlink(name: str, *, dir_fd: int) -> None:
        if name == stuck.name:
            raise OSError(code, os.strerror(code))
        real_unlink(name, dir_fd=dir_fd)

    with faults(unlink=unlink):
        summary = clean(media_root)

    assert stuck.exists()
    assert not any(path.exists() for path in others)
    assert notices(logged(caplog)) == [f"WARNING cannot delete {stuck}: {os.strerror(code)}"]
    assert counts(summary) == numbers(scanned=5, deleted=3, bytes_freed=30, errors=1)


def test_stat_failure_on_one_entry_is_counted_and_the_rest_still_goes(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    unstatable = make_media_file(media_root / "d" / "eio.png", age=OLD)
    age_entry(media_root / "d", OLD)  # stays: it still holds the unreadable entry
    other = make_media_file(media_root / "other.png", age=OLD)
    real_scandir = os.scandir

    class FailingEntry:
        name = unstatable.name

        def stat(self, *, follow_symlinks: bool) -> os.stat_result:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    def scandir(fd: int) -> list:
        return [FailingEntry() if e.name == unstatable.name else e for e in real_scandir(fd)]

    with faults(scandir=scandir):
        summary = clean(media_root)

    assert unstatable.exists()
    assert (media_root / "d").is_dir()
    assert not other.exists()
    assert notices(logged(caplog)) == [f"WARNING cannot stat {unstatable}: Input/output error"]
    assert counts(summary) == numbers(scanned=2, deleted=1, bytes_freed=10, errors=1)


def test_subdirectory_that_cannot_be_listed_is_one_error_and_is_not_removed(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hidden = make_media_file(media_root / "broken" / "old.png", age=OLD)
    age_entry(media_root / "broken", OLD)
    other = make_media_file(media_root / "other.png", age=OLD)
    broken_ino = os.stat(media_root / "broken").st_ino
    real_scandir = os.scandir

    def scandir(fd: int) -> object:
        if os.fstat(fd).st_ino == broken_ino:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_scandir(fd)

    with faults(scandir=scandir):
        summary = clean(media_root)

    assert hidden.exists()
    assert not other.exists()
    assert warnings(logged(caplog)) == [
        f"WARNING cannot list {media_root}/broken: Input/output error"
    ]
    assert counts(summary) == numbers(scanned=2, deleted=1, bytes_freed=10, errors=1)


def test_root_that_cannot_be_listed_means_the_run_cannot_run(media_root: Path) -> None:
    def scandir(fd: int) -> object:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    fds_before = set(os.listdir("/proc/self/fd"))

    with (
        faults(scandir=scandir),
        pytest.raises(MediaRootError, match=r"cannot list generated media root .*: Input/output"),
    ):
        clean(media_root)

    assert set(os.listdir("/proc/self/fd")) == fds_before


EIO = os.strerror(errno.EIO)


def test_every_error_and_every_skip_is_counted(
    media_root: Path,
    make_media_file: MakeFile,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("a.png", "b.png"):
        make_media_file(media_root / name, age=OLD)
    for name in ("c", "d"):
        (media_root / name).mkdir()
    real_open = os.open

    def unlink(name: str, *, dir_fd: int) -> None:
        raise OSError(errno.EIO, EIO)

    def open_after_a_swap(name: str, flags: int, **kwargs: int) -> int:
        if name in ("c", "d"):
            (media_root / name).rename(media_root / f"{name}-moved")
            (media_root / name).mkdir()
        return real_open(name, flags, **kwargs)

    with faults(unlink=unlink, open=open_after_a_swap):
        summary = clean(media_root)

    assert len(warnings(logged(caplog))) == 4
    assert counts(summary) == numbers(scanned=4, errors=2, skipped=2)
