"""delete_old_media and file descriptors: none leaks, and depth needs no recursion."""

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from maintenance.media import walk
from tests.clock import OLD
from tests.maintenance.media_support import (
    AgeEntry,
    MakeFile,
    clean,
    counts,
    faults,
    numbers,
)


def test_an_unexpected_exception_mid_walk_leaks_no_descriptor(
    media_root: Path, make_media_file: MakeFile
) -> None:
    make_media_file(media_root / "a" / "b" / "c" / "old.png", age=OLD)

    def unlink(name: str, *, dir_fd: int) -> None:
        raise RuntimeError("a bug, not an OSError")

    fds_before = set(os.listdir("/proc/self/fd"))

    with faults(unlink=unlink), pytest.raises(RuntimeError, match="a bug"):
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


def test_after_a_reopened_level_the_walk_descends_again_within_its_budget(
    media_root: Path, make_media_file: MakeFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """x/first/.../old.png closes x for the budget; back in x (reopened), x/second/... is
    walked with at most the budget's levels open, as before the reopen."""
    monkeypatch.setattr(walk, "MAX_OPEN_DIRS", 3)
    for chain in ("first", "second"):
        make_media_file(media_root / "x" / chain / "d" / "d" / "d" / "old.png", age=OLD)
    baseline = len(os.listdir("/proc/self/fd"))
    real_unlink, open_at_unlink = os.unlink, []

    def unlink(name: str, *, dir_fd: int) -> None:
        open_at_unlink.append(len(os.listdir("/proc/self/fd")) - baseline)
        real_unlink(name, dir_fd=dir_fd)

    real_scandir = os.scandir  # "first" before "second", whatever the directory's order
    with faults(unlink=unlink, scandir=lambda fd: sorted(real_scandir(fd), key=lambda e: e.name)):
        summary = clean(media_root)

    assert len(open_at_unlink) == 2
    # Each open level holds its descriptor and its listing's: 3 levels, 6 descriptors.
    assert open_at_unlink[0] == open_at_unlink[1] <= 6
    assert summary.deleted == 2
    assert summary.errors == 0


@pytest.mark.parametrize(
    ("soft_limit", "budget"), [(8, 2), (100, 12), (1_048_576, walk.MAX_OPEN_DIRS)]
)
def test_the_walk_holds_an_eighth_of_the_open_file_limit_at_most(
    soft_limit: int, budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = SimpleNamespace(RLIMIT_NOFILE=7, getrlimit={7: (soft_limit, 1_048_576)}.__getitem__)
    monkeypatch.setattr(walk, "resource", limits)  # the walk's own view of the limit
    assert walk.open_dirs_budget() == budget
