"""A folder is read as it is walked: a listing that breaks off, and flat memory.

The walk never holds a whole folder's listing: it reads entries as the kernel returns them
(walk.listing), so a listing can fail part-way through (EIO on a bad disk block), and a
folder of any size costs the same memory.
"""

import errno
import os
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.logs import logged, warnings
from tests.maintenance.media_support import MakeFile, clean, counts, faults, numbers

OLD, YOUNG = timedelta(days=30), timedelta(days=1)


def breaking_off(after: int, *, only: str) -> object:
    """A scandir that gives `after` entries (by name) of the folder named `only`, then EIO."""
    real = os.scandir

    def scandir(fd: int) -> Iterator[os.DirEntry]:
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) != only:
            return real(fd)
        return _then_eio(sorted(real(fd), key=lambda entry: entry.name)[:after])

    return scandir


def _then_eio(entries: list[os.DirEntry]) -> Iterator[os.DirEntry]:
    yield from entries
    raise OSError(errno.EIO, os.strerror(errno.EIO))


def test_a_listing_that_breaks_off_keeps_the_rest_and_the_folder(
    media_root: Path, make_media_file: MakeFile, age_entry, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(5):
        make_media_file(media_root / "broken" / f"{n}.png", age=OLD)
    make_media_file(media_root / "sound" / "old.png", age=OLD)
    make_media_file(media_root / "sound" / "young.png", age=YOUNG)
    age_entry(media_root / "broken", OLD)  # old and, but for the error, emptied: it stays

    with faults(scandir=breaking_off(2, only="broken")):
        summary = clean(media_root)

    assert sorted(os.listdir(media_root / "broken")) == ["2.png", "3.png", "4.png"]
    assert os.listdir(media_root / "sound") == ["young.png"]
    assert counts(summary) == numbers(scanned=6, deleted=3, bytes_freed=30, errors=1)
    assert warnings(logged(caplog)) == [
        f"WARNING cannot list {media_root}/broken: Input/output error"
    ]
    # Known to stay, so not even tried: no "new entries appeared" notice about a race.
    assert not [line for line in logged(caplog) if "keeping" in line]


def test_the_roots_listing_breaking_off_is_one_error_not_a_failed_run(
    media_root: Path, make_media_file: MakeFile, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("a.png", "b.png", "c.png"):
        make_media_file(media_root / name, age=OLD)

    with faults(scandir=breaking_off(1, only=media_root.name)):
        summary = clean(media_root)

    assert sorted(os.listdir(media_root)) == ["b.png", "c.png"]
    assert counts(summary) == numbers(scanned=1, deleted=1, bytes_freed=10, errors=1)
    assert warnings(logged(caplog)) == [f"WARNING cannot list {media_root}: Input/output error"]


def peak_bytes(root: Path) -> int:
    """Peak Python memory of one dry run over `root`, as tracemalloc counts it."""
    tracemalloc.start()
    try:
        summary = clean(root, dry_run=True)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        assert summary.errors == 0


def flat_folder(root: Path, files: int) -> Path:
    root.mkdir()
    for n in range(files):
        (root / f"image-{n:06d}.png").touch()
    return root


def test_memory_does_not_grow_with_the_size_of_a_folder(tmp_path: Path) -> None:
    """10,000 entries listed whole would hold about 7 MB of entries and their stats."""
    small = peak_bytes(flat_folder(tmp_path / "small", 500))
    large = peak_bytes(flat_folder(tmp_path / "large", 10_000))

    assert large - small < 1_000_000, (small, large)
    assert len(os.listdir(tmp_path / "large")) == 10_000  # a dry run: all still there
