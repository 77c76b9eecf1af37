"""delete_old_media when the tree changes between scan and action: no error, nothing outside."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from tests.clock import OLD, YOUNG
from tests.logs import logged, warnings
from tests.maintenance.fake_tree import ROOT as FAKE_ROOT
from tests.maintenance.media_support import (
    AgeEntry,
    MakeFile,
    clean,
    counts,
    faults,
    notices,
    numbers,
    snapshot,
)

# --- Races: things that change between scan and action ---------------------------------


def test_entry_that_vanishes_between_listing_and_stat_is_not_an_error(
    media_root: Path,
    make_media_file: MakeFile,
    caplog: pytest.LogCaptureFixture,
) -> None:
    racer = make_media_file(media_root / "racer.png", age=OLD)
    other = make_media_file(media_root / "other.png", age=OLD)
    real_scandir = os.scandir

    def scandir(fd: int) -> list:
        listing = list(real_scandir(fd))
        racer.unlink(missing_ok=True)  # gone after the listing, before the stat
        return listing

    with faults(scandir=scandir):
        summary = clean(media_root)

    assert not other.exists()
    assert warnings(logged(caplog)) == []
    assert counts(summary) == numbers(scanned=1, deleted=1, bytes_freed=10)


def test_directory_that_vanishes_before_descent_is_not_an_error_and_frees_its_parent(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_media_file(media_root / "parent" / "gone" / "old.png", age=OLD)
    age_entry(media_root / "parent", OLD)
    other = make_media_file(media_root / "other.png", age=OLD)
    real_open = os.open

    def open_after_someone_removed_it(name: str, flags: int, **kwargs: int) -> int:
        if name == "gone":
            (media_root / "parent" / "gone" / "old.png").unlink()
            (media_root / "parent" / "gone").rmdir()
        return real_open(name, flags, **kwargs)

    with faults(open=open_after_someone_removed_it):
        summary = clean(media_root)

    assert sorted(os.listdir(media_root)) == []
    assert not other.exists()
    assert notices(logged(caplog)) == []
    assert counts(summary) == numbers(scanned=3, deleted=1, bytes_freed=10, dirs_removed=1)


@pytest.mark.parametrize(
    "replacement", ["symlink-to-the-moved-directory", "symlink-to-outside", "other-directory"]
)
def test_subdirectory_swapped_between_scan_and_descent_is_skipped_and_nothing_outside_changes(
    media_root: Path,
    tmp_path: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
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
    real_open = os.open

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

    with faults(open=open_after_a_swap):
        summary = clean(media_root)

    if replacement == "other-directory":
        (media_root / "sub").rename(outside)  # put it back to compare
    assert snapshot(outside) == before_outside
    assert (moved_away / "old.png").exists()  # never descended into
    assert not beside.exists()
    assert warnings(logged(caplog)) == [
        f"WARNING skipping {media_root}/sub: replaced by something else during the run"
    ]
    assert counts(summary) == numbers(scanned=2, deleted=1, bytes_freed=10, skipped=1)


def test_directory_written_into_during_the_run_stays_without_an_error(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_media_file(media_root / "busy" / "old.png", age=OLD)
    age_entry(media_root / "busy", OLD)
    real_rmdir = os.rmdir

    def rmdir_after_a_new_file(name: str, *, dir_fd: int) -> None:
        (media_root / name / "new.png").write_bytes(b"fresh")  # the image library wrote
        real_rmdir(name, dir_fd=dir_fd)

    with faults(rmdir=rmdir_after_a_new_file):
        summary = clean(media_root)

    assert (media_root / "busy" / "new.png").read_bytes() == b"fresh"
    assert notices(logged(caplog)) == [
        f"INFO keeping {media_root}/busy: new entries appeared in it during the run"
    ]
    assert counts(summary) == numbers(scanned=2, deleted=1, bytes_freed=10)


def test_directory_removed_by_someone_else_before_rmdir_frees_its_parent(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
) -> None:
    """Not counted as removed by this run, but gone: its old parent is empty and goes."""
    make_media_file(media_root / "parent" / "twice" / "old.png", age=OLD)
    age_entry(media_root / "parent" / "twice", OLD)
    age_entry(media_root / "parent", OLD)
    real_rmdir = os.rmdir

    def rmdir_twice(name: str, *, dir_fd: int) -> None:
        if name == "twice":
            real_rmdir(name, dir_fd=dir_fd)  # another cleaner got there first
        real_rmdir(name, dir_fd=dir_fd)

    with faults(rmdir=rmdir_twice):
        summary = clean(media_root)

    assert os.listdir(media_root) == []
    assert counts(summary) == numbers(scanned=3, deleted=1, bytes_freed=10, dirs_removed=1)


def test_swap_to_a_symlink_reported_as_eloop_is_skipped_too(
    fs: FakeFilesystem,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """POSIX says ELOOP for O_NOFOLLOW on a link (pyfakefs does); Linux says ENOTDIR."""
    outside = make_media_file(Path("/srv/outside/precious.png"), age=timedelta(days=90))
    make_media_file(FAKE_ROOT / "sub" / "old.png", age=OLD)
    real_open = os.open

    def open_after_a_swap(name: str, flags: int, **kwargs: int) -> int:
        if name == "sub":
            (FAKE_ROOT / "sub").rename("/srv/moved-away")
            (FAKE_ROOT / "sub").symlink_to(outside.parent, target_is_directory=True)
        return real_open(name, flags, **kwargs)

    with faults(open=open_after_a_swap):
        summary = clean(FAKE_ROOT)

    assert outside.exists()
    assert Path("/srv/moved-away/old.png").exists()
    assert warnings(logged(caplog)) == [
        f"WARNING skipping {FAKE_ROOT}/sub: replaced by something else during the run"
    ]
    assert counts(summary) == numbers(scanned=1, skipped=1)


def test_entry_vanishing_after_others_were_counted_keeps_their_counts(
    media_root: Path,
    make_media_file: MakeFile,
    caplog: pytest.LogCaptureFixture,
) -> None:
    others = [make_media_file(media_root / name, age=OLD) for name in ("a.png", "b.png")]
    young = make_media_file(media_root / "young.png", age=YOUNG)
    racer = make_media_file(media_root / "racer.png", age=OLD)
    real_scandir = os.scandir

    def scandir(fd: int) -> list:
        listing = sorted(real_scandir(fd), key=lambda entry: entry.name == racer.name)
        racer.unlink()  # listed last, gone before its stat
        return listing

    with faults(scandir=scandir):
        summary = clean(media_root)

    assert not any(path.exists() for path in others)
    assert young.exists()
    assert warnings(logged(caplog)) == []
    assert counts(summary) == numbers(scanned=3, deleted=2, bytes_freed=20)
