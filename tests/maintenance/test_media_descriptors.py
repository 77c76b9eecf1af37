"""delete_old_media and file descriptors: none leaks, and depth needs no recursion."""

import os
from pathlib import Path

import pytest

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
