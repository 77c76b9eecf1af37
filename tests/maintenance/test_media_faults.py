"""delete_old_media under injected faults: each item is isolated, nothing escapes the root.

Mocks appear only here, and only to inject a fault at one exact step (a swap between scan
and descent, an errno from one syscall); everything else is the real walk.
"""

import errno
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from maintenance import media
from maintenance.media import MediaRootError
from tests.maintenance.media_support import (
    NOW,
    AgeEntry,
    MakeFile,
    clean,
    counts,
    numbers,
)

OLD = timedelta(days=8)
YOUNG = timedelta(days=1)
FAKE_ROOT = Path("/srv/app/generated_media")

as_non_root = pytest.mark.parametrize("fs", [[None, None, None, False]], indirect=True)


def snapshot(top: Path) -> dict[str, tuple[int, int, int]]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            found[os.path.join(dirpath, name)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


def warnings(log: list[str]) -> list[str]:
    return [line for line in log if line.startswith("WARNING")]


def notices(log: list[str]) -> list[str]:
    """WARNING and INFO lines but the summary: what an operator would read about items."""
    return [
        line
        for line in log
        if line.startswith(("WARNING", "INFO")) and "clean_generated_media summary" not in line
    ]


# --- Permissions (pyfakefs as a non-root user, so permission bits count) ----------------


def test_directory_that_cannot_be_opened_is_one_error_and_the_rest_still_goes(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
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
    real_open = media.os.open

    def open_denied(name: str, flags: int, **kwargs: int) -> int:
        if name == "locked":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return real_open(name, flags, **kwargs)

    monkeypatch.setattr(media.os, "open", open_denied)

    summary = clean(media_root)

    assert all(path.exists() for path in locked_files)
    assert not any(path.exists() for path in others)
    assert (media_root / "outer" / "locked").is_dir()
    assert notices(media_log) == [
        f"WARNING cannot open {media_root}/outer/locked: Permission denied"
    ]
    assert counts(summary) == numbers(scanned=5, deleted=2, bytes_freed=20, errors=1)


@as_non_root
def test_old_empty_directory_in_a_read_only_parent_is_one_error(
    fs: FakeFilesystem, make_media_file: MakeFile, age_entry: AgeEntry, media_log: list[str]
) -> None:
    empty = FAKE_ROOT / "ro" / "empty"
    empty.mkdir(parents=True)
    age_entry(empty, OLD)
    os.chmod(FAKE_ROOT / "ro", 0o555)
    beside = make_media_file(FAKE_ROOT / "old.png", age=OLD)

    summary = clean(FAKE_ROOT)

    assert empty.is_dir()
    assert not beside.exists()
    assert warnings(media_log) == [
        f"WARNING cannot remove directory {FAKE_ROOT}/ro/empty: Permission denied"
    ]
    assert counts(summary) == numbers(scanned=3, deleted=1, bytes_freed=10, errors=1)


def test_unreadable_root_means_the_run_cannot_run(
    media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EACCES on the root, injected on the real filesystem: as root the kernel ignores the
    bits, and pyfakefs as another user answers ENOTDIR for any folder opened by descriptor."""
    real_open = media.os.open

    def open_denied(name: str, flags: int, **kwargs: int) -> int:
        if name == media_root.name:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return real_open(name, flags, **kwargs)

    monkeypatch.setattr(media.os, "open", open_denied)

    with pytest.raises(MediaRootError) as raised:
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
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
    code: int,
) -> None:
    stuck = make_media_file(media_root / "b" / "stuck.png", age=OLD)
    others = [make_media_file(media_root / name, age=OLD) for name in ("a.png", "b/c.png", "d.png")]
    age_entry(media_root / "b", OLD)  # stays: it still holds the stuck file
    real_unlink = media.os.unlink

    def unlink(name: str, *, dir_fd: int) -> None:
        if name == stuck.name:
            raise OSError(code, os.strerror(code))
        real_unlink(name, dir_fd=dir_fd)

    monkeypatch.setattr(media.os, "unlink", unlink)

    summary = clean(media_root)

    assert stuck.exists()
    assert not any(path.exists() for path in others)
    assert notices(media_log) == [f"WARNING cannot delete {stuck}: {os.strerror(code)}"]
    assert counts(summary) == numbers(scanned=5, deleted=3, bytes_freed=30, errors=1)


def test_stat_failure_on_one_entry_is_counted_and_the_rest_still_goes(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
) -> None:
    unstatable = make_media_file(media_root / "d" / "eio.png", age=OLD)
    age_entry(media_root / "d", OLD)  # stays: it still holds the unreadable entry
    other = make_media_file(media_root / "other.png", age=OLD)
    real_scandir = media.os.scandir

    class FailingEntry:
        name = unstatable.name

        def stat(self, *, follow_symlinks: bool) -> os.stat_result:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    def scandir(fd: int) -> list:
        return [FailingEntry() if e.name == unstatable.name else e for e in real_scandir(fd)]

    monkeypatch.setattr(media.os, "scandir", scandir)

    summary = clean(media_root)

    assert unstatable.exists()
    assert (media_root / "d").is_dir()
    assert not other.exists()
    assert notices(media_log) == [f"WARNING cannot stat {unstatable}: Input/output error"]
    assert counts(summary) == numbers(scanned=2, deleted=1, bytes_freed=10, errors=1)


def test_subdirectory_that_cannot_be_listed_is_one_error_and_is_not_removed(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
) -> None:
    hidden = make_media_file(media_root / "broken" / "old.png", age=OLD)
    age_entry(media_root / "broken", OLD)
    other = make_media_file(media_root / "other.png", age=OLD)
    broken_ino = os.stat(media_root / "broken").st_ino
    real_scandir = media.os.scandir

    def scandir(fd: int) -> object:
        if os.fstat(fd).st_ino == broken_ino:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_scandir(fd)

    monkeypatch.setattr(media.os, "scandir", scandir)

    summary = clean(media_root)

    assert hidden.exists()
    assert not other.exists()
    assert warnings(media_log) == [f"WARNING cannot list {media_root}/broken: Input/output error"]
    assert counts(summary) == numbers(scanned=2, deleted=1, bytes_freed=10, errors=1)


def test_root_that_cannot_be_listed_means_the_run_cannot_run(
    media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scandir(fd: int) -> object:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(media.os, "scandir", scandir)
    fds_before = set(os.listdir("/proc/self/fd"))

    with pytest.raises(MediaRootError, match=r"cannot list generated media root .*: Input/output"):
        clean(media_root)

    assert set(os.listdir("/proc/self/fd")) == fds_before


# --- Races: things that change between scan and action ---------------------------------


def test_entry_that_vanishes_between_listing_and_stat_is_not_an_error(
    media_root: Path,
    make_media_file: MakeFile,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
) -> None:
    racer = make_media_file(media_root / "racer.png", age=OLD)
    other = make_media_file(media_root / "other.png", age=OLD)
    real_scandir = media.os.scandir

    def scandir(fd: int) -> list:
        listing = list(real_scandir(fd))
        racer.unlink(missing_ok=True)  # gone after the listing, before the stat
        return listing

    monkeypatch.setattr(media.os, "scandir", scandir)

    summary = clean(media_root)

    assert not other.exists()
    assert warnings(media_log) == []
    assert counts(summary) == numbers(scanned=1, deleted=1, bytes_freed=10)


def test_directory_that_vanishes_before_descent_is_not_an_error_and_frees_its_parent(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
) -> None:
    make_media_file(media_root / "parent" / "gone" / "old.png", age=OLD)
    age_entry(media_root / "parent", OLD)
    other = make_media_file(media_root / "other.png", age=OLD)
    real_open = media.os.open

    def open_after_someone_removed_it(name: str, flags: int, **kwargs: int) -> int:
        if name == "gone":
            (media_root / "parent" / "gone" / "old.png").unlink()
            (media_root / "parent" / "gone").rmdir()
        return real_open(name, flags, **kwargs)

    monkeypatch.setattr(media.os, "open", open_after_someone_removed_it)

    summary = clean(media_root)

    assert sorted(os.listdir(media_root)) == []
    assert not other.exists()
    assert notices(media_log) == []
    assert counts(summary) == numbers(scanned=3, deleted=1, bytes_freed=10, dirs_removed=1)


@pytest.mark.parametrize(
    "replacement", ["symlink-to-the-moved-directory", "symlink-to-outside", "other-directory"]
)
def test_subdirectory_swapped_between_scan_and_descent_is_skipped_and_nothing_outside_changes(
    media_root: Path,
    tmp_path: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
    replacement: str,
) -> None:
    outside = tmp_path / "outside"
    make_media_file(outside / "precious.png", age=timedelta(days=90))
    make_media_file(outside / "deeper" / "precious.png", age=timedelta(days=90))
    age_entry(outside / "deeper", timedelta(days=90))
    make_media_file(media_root / "sub" / "old.png", age=OLD)
    age_entry(media_root / "sub", OLD)
    beside = make_media_file(media_root / "beside.png", age=OLD)
    moved_away = tmp_path / "moved-away"
    before_outside = snapshot(outside)
    real_open = media.os.open

    def open_after_a_swap(name: str, flags: int, **kwargs: int) -> int:
        if name == "sub":
            (media_root / "sub").rename(moved_away)
            if replacement == "symlink-to-the-moved-directory":  # same inode: only
                (media_root / "sub").symlink_to(moved_away)  # O_NOFOLLOW stops this one
            elif replacement == "symlink-to-outside":
                (media_root / "sub").symlink_to(outside, target_is_directory=True)
            else:
                outside.rename(media_root / "sub")  # a different directory, same name
        return real_open(name, flags, **kwargs)

    monkeypatch.setattr(media.os, "open", open_after_a_swap)

    summary = clean(media_root)

    if replacement == "other-directory":
        (media_root / "sub").rename(outside)  # put it back to compare
    assert snapshot(outside) == before_outside
    assert (moved_away / "old.png").exists()  # never descended into
    assert not beside.exists()
    assert warnings(media_log) == [
        f"WARNING skipping {media_root}/sub: replaced by something else during the run"
    ]
    assert counts(summary) == numbers(scanned=2, deleted=1, bytes_freed=10, skipped=1)


def test_directory_written_into_during_the_run_stays_without_an_error(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
) -> None:
    make_media_file(media_root / "busy" / "old.png", age=OLD)
    age_entry(media_root / "busy", OLD)
    real_rmdir = media.os.rmdir

    def rmdir_after_a_new_file(name: str, *, dir_fd: int) -> None:
        (media_root / name / "new.png").write_bytes(b"fresh")  # the image library wrote
        real_rmdir(name, dir_fd=dir_fd)

    monkeypatch.setattr(media.os, "rmdir", rmdir_after_a_new_file)

    summary = clean(media_root)

    assert (media_root / "busy" / "new.png").read_bytes() == b"fresh"
    assert notices(media_log) == [
        f"INFO keeping {media_root}/busy: new entries appeared in it during the run"
    ]
    assert counts(summary) == numbers(scanned=2, deleted=1, bytes_freed=10)


def test_directory_removed_by_someone_else_before_rmdir_frees_its_parent(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not counted as removed by this run, but gone: its old parent is empty and goes."""
    make_media_file(media_root / "parent" / "twice" / "old.png", age=OLD)
    age_entry(media_root / "parent" / "twice", OLD)
    age_entry(media_root / "parent", OLD)
    real_rmdir = media.os.rmdir

    def rmdir_twice(name: str, *, dir_fd: int) -> None:
        if name == "twice":
            real_rmdir(name, dir_fd=dir_fd)  # another cleaner got there first
        real_rmdir(name, dir_fd=dir_fd)

    monkeypatch.setattr(media.os, "rmdir", rmdir_twice)

    summary = clean(media_root)

    assert os.listdir(media_root) == []
    assert counts(summary) == numbers(scanned=3, deleted=1, bytes_freed=10, dirs_removed=1)


# --- Descriptors -----------------------------------------------------------------------


def test_an_unexpected_exception_mid_walk_leaks_no_descriptor(
    media_root: Path, make_media_file: MakeFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_media_file(media_root / "a" / "b" / "c" / "old.png", age=OLD)

    def unlink(name: str, *, dir_fd: int) -> None:
        raise RuntimeError("a bug, not an OSError")

    monkeypatch.setattr(media.os, "unlink", unlink)
    fds_before = set(os.listdir("/proc/self/fd"))

    with pytest.raises(RuntimeError, match="a bug"):
        clean(media_root)

    assert set(os.listdir("/proc/self/fd")) == fds_before


def test_a_deep_tree_needs_no_recursion_and_leaks_no_descriptor(
    media_root: Path, age_entry: AgeEntry
) -> None:
    """Deeper than Python's recursion limit would allow a recursive walk (2 frames/level)."""
    depth = 600
    fds_before = set(os.listdir("/proc/self/fd"))
    path = media_root
    chain = []
    for _ in range(depth):
        path = path / "d"
        chain.append(path)
    os.makedirs(path)
    (path / "old.png").write_bytes(b"x" * 10)
    age_entry(path / "old.png", OLD)
    for directory in chain:
        age_entry(directory, OLD)

    summary = clean(media_root)

    assert os.listdir(media_root) == []
    assert set(os.listdir("/proc/self/fd")) == fds_before
    assert counts(summary) == numbers(
        scanned=depth + 1, deleted=1, bytes_freed=10, dirs_removed=depth
    )


def test_swap_to_a_symlink_reported_as_eloop_is_skipped_too(
    fs: FakeFilesystem,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
) -> None:
    """POSIX says ELOOP for O_NOFOLLOW on a link (pyfakefs does); Linux says ENOTDIR."""
    outside = make_media_file(Path("/srv/outside/precious.png"), age=timedelta(days=90))
    make_media_file(FAKE_ROOT / "sub" / "old.png", age=OLD)
    real_open = media.os.open

    def open_after_a_swap(name: str, flags: int, **kwargs: int) -> int:
        if name == "sub":
            (FAKE_ROOT / "sub").rename("/srv/moved-away")
            (FAKE_ROOT / "sub").symlink_to(outside.parent, target_is_directory=True)
        return real_open(name, flags, **kwargs)

    monkeypatch.setattr(media.os, "open", open_after_a_swap)

    summary = clean(FAKE_ROOT)

    assert outside.exists()
    assert Path("/srv/moved-away/old.png").exists()
    assert warnings(media_log) == [
        f"WARNING skipping {FAKE_ROOT}/sub: replaced by something else during the run"
    ]
    assert counts(summary) == numbers(scanned=1, skipped=1)


# --- An old folder that keeps anything is kept, and quietly ----------------------------
# Each case puts one entry that must stay into an old folder, alone or beside a FIFO (a
# second entry that stays for another reason), and returns the notices that entry causes.
# The folder must stay without a word of its own: it is not even tried, so there is no
# "keeping ...: new entries appeared" line reporting a race that never happened.

CHILD = os.fsdecode(b"old-\xff")  # an undecodable name: logged with escapes
SHOWN = "old-\\xff"
EIO = os.strerror(errno.EIO)


def _fail(
    monkeypatch: pytest.MonkeyPatch, call: str, name: str, then: Callable | None = None
) -> None:
    """Make `os.<call>(name, ...)` fail with EIO, or run `then()` before the real call."""
    real = getattr(media.os, call)

    def fake(path: object, *args: object, **kwargs: object) -> object:
        if path == name:
            if then is None:
                raise OSError(errno.EIO, EIO)
            then()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(media.os, call, fake)


def _entry_stat(monkeypatch: pytest.MonkeyPatch, name: str, stat: Callable) -> None:
    """List the entry `name` with `stat(real_entry)` as what its stat() gives."""
    real_scandir = media.os.scandir

    class Entry:
        def __init__(self, real: os.DirEntry) -> None:
            self.name, self.real = real.name, real

        def stat(self, *, follow_symlinks: bool) -> os.stat_result:
            return stat(self.real)

    monkeypatch.setattr(
        media.os,
        "scandir",
        lambda fd: [Entry(e) if e.name == name else e for e in real_scandir(fd)],
    )


def _young_file(p, mp, make):
    make(p / "young.png", age=YOUNG)
    return []


def _kept_name(p, mp, make):
    make(p / ".gitkeep", age=OLD)
    return []


def _special_file(p, mp, make):
    os.mkfifo(p / "fifo")
    return [f"INFO skipping {p}/fifo: not a regular file, symlink or directory"]


def _unstatable_file(p, mp, make):
    make(p / "eio.png", age=OLD)

    def fail(entry: os.DirEntry) -> os.stat_result:
        raise OSError(errno.EIO, EIO)

    _entry_stat(mp, "eio.png", fail)
    return [f"WARNING cannot stat {p}/eio.png: {EIO}"]


def _undeletable_file(p, mp, make):
    make(p / "stuck.png", age=OLD)
    _fail(mp, "unlink", "stuck.png")
    return [f"WARNING cannot delete {p}/stuck.png: {EIO}"]


def _mount_point(p, mp, make):
    (p / "mnt").mkdir()

    def on_another_device(entry: os.DirEntry) -> os.stat_result:
        fields = list(entry.stat(follow_symlinks=False))
        fields[2] += 1  # st_dev
        return os.stat_result(fields)

    _entry_stat(mp, "mnt", on_another_device)
    return [f"WARNING skipping {p}/mnt: another filesystem is mounted there"]


def _old_child(p, make, *, holding: bool = False) -> Path:
    child = p / CHILD
    child.mkdir()
    if holding:
        make(child / "young.png", age=YOUNG)
    os.utime(child, ((NOW - OLD).timestamp(),) * 2)
    return child


def _unopenable_dir(p, mp, make):
    _old_child(p, make)
    _fail(mp, "open", CHILD)
    return [f"WARNING cannot open {p}/{SHOWN}: {EIO}"]


def _unlistable_dir(p, mp, make):
    inode = _old_child(p, make).stat().st_ino
    real_scandir = media.os.scandir

    def scandir(fd: int) -> object:
        if os.fstat(fd).st_ino == inode:
            raise OSError(errno.EIO, EIO)
        return real_scandir(fd)

    mp.setattr(media.os, "scandir", scandir)
    return [f"WARNING cannot list {p}/{SHOWN}: {EIO}"]


def _swapped_dir(p, mp, make):
    child = _old_child(p, make)

    def swap() -> None:
        child.rename(p / "moved-away")
        child.mkdir()

    _fail(mp, "open", CHILD, then=swap)
    return [f"WARNING skipping {p}/{SHOWN}: replaced by something else during the run"]


def _dir_holding_a_young_file(p, mp, make):
    _old_child(p, make, holding=True)
    return []


def _dir_that_cannot_be_removed(p, mp, make):
    _old_child(p, make)
    _fail(mp, "rmdir", CHILD)
    return [f"WARNING cannot remove directory {p}/{SHOWN}: {EIO}"]


def _dir_written_into(p, mp, make):
    child = _old_child(p, make)
    _fail(mp, "rmdir", CHILD, then=lambda: (child / "new.png").write_bytes(b"fresh"))
    return [f"INFO keeping {p}/{SHOWN}: new entries appeared in it during the run"]


STAYING = [
    _young_file,
    _kept_name,
    _special_file,
    _unstatable_file,
    _undeletable_file,
    _mount_point,
    _unopenable_dir,
    _unlistable_dir,
    _swapped_dir,
    _dir_holding_a_young_file,
    _dir_that_cannot_be_removed,
    _dir_written_into,
]


@pytest.mark.parametrize("company", ["alone", "beside-a-fifo"])
@pytest.mark.parametrize("stays", STAYING, ids=lambda case: case.__name__.strip("_"))
def test_old_folder_with_an_entry_that_stays_is_kept_and_not_even_tried(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
    stays: Callable,
    company: str,
) -> None:
    folder = media_root / "old-folder"
    folder.mkdir()
    expected = stays(folder, monkeypatch, make_media_file)
    if company == "beside-a-fifo":
        os.mkfifo(folder / "pipe")
        expected.append(f"INFO skipping {folder}/pipe: not a regular file, symlink or directory")
    age_entry(folder, OLD)

    summary = clean(media_root)

    assert folder.is_dir()
    assert sorted(notices(media_log)) == sorted(expected)
    assert (summary.dirs_removed, summary.errors, summary.skipped) == (
        0,
        sum(line.startswith("WARNING cannot") for line in expected),
        sum(" skipping " in line for line in expected),
    )


def test_every_error_and_every_skip_is_counted(
    media_root: Path,
    make_media_file: MakeFile,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
) -> None:
    for name in ("a.png", "b.png"):
        make_media_file(media_root / name, age=OLD)
    for name in ("c", "d"):
        (media_root / name).mkdir()
    real_open = media.os.open

    def unlink(name: str, *, dir_fd: int) -> None:
        raise OSError(errno.EIO, EIO)

    def open_after_a_swap(name: str, flags: int, **kwargs: int) -> int:
        if name in ("c", "d"):
            (media_root / name).rename(media_root / f"{name}-moved")
            (media_root / name).mkdir()
        return real_open(name, flags, **kwargs)

    monkeypatch.setattr(media.os, "unlink", unlink)
    monkeypatch.setattr(media.os, "open", open_after_a_swap)

    summary = clean(media_root)

    assert len(warnings(media_log)) == 4
    assert counts(summary) == numbers(scanned=4, errors=2, skipped=2)


def test_entry_vanishing_after_others_were_counted_keeps_their_counts(
    media_root: Path,
    make_media_file: MakeFile,
    monkeypatch: pytest.MonkeyPatch,
    media_log: list[str],
) -> None:
    others = [make_media_file(media_root / name, age=OLD) for name in ("a.png", "b.png")]
    young = make_media_file(media_root / "young.png", age=YOUNG)
    racer = make_media_file(media_root / "racer.png", age=OLD)
    real_scandir = media.os.scandir

    def scandir(fd: int) -> list:
        listing = sorted(real_scandir(fd), key=lambda entry: entry.name == racer.name)
        racer.unlink()  # listed last, gone before its stat
        return listing

    monkeypatch.setattr(media.os, "scandir", scandir)

    summary = clean(media_root)

    assert not any(path.exists() for path in others)
    assert young.exists()
    assert warnings(media_log) == []
    assert counts(summary) == numbers(scanned=3, deleted=2, bytes_freed=20)
