"""delete_old_media keeps an old folder that keeps anything, and quietly."""

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from maintenance.media import delete_old_media, sweep
from tests.clock import MEDIA_NOW as NOW
from tests.clock import OLD, WEEK, YOUNG
from tests.logs import logged
from tests.maintenance.media_support import (
    AgeEntry,
    MakeFile,
    clean,
    counts,
    faults,
    notices,
    numbers,
)

# Each case puts one entry that must stay into an old folder, alone or beside a FIFO (a
# second entry that stays for another reason), and returns the notices that entry causes.
# The folder must stay without a word of its own: it is not even tried, so there is no
# "keeping ...: new entries appeared" line reporting a race that never happened.

CHILD = os.fsdecode(b"old-\xff")  # an undecodable name: logged with escapes
SHOWN = "old-\\xff"
EIO = os.strerror(errno.EIO)


def _fail(fakes: dict, call: str, name: str, then: Callable | None = None) -> None:
    """Make the cleanup's `<call>(name, ...)` fail with EIO, or run `then()` before it."""
    real = getattr(os, call)

    def fake(path: object, *args: object, **kwargs: object) -> object:
        if path == name:
            if then is None:
                raise OSError(errno.EIO, EIO)
            then()
        return real(path, *args, **kwargs)

    fakes[call] = fake


def _entry_stat(fakes: dict, name: str, stat: Callable) -> None:
    """List the entry `name` with `stat(real_entry)` as what its stat() gives."""
    real_scandir = os.scandir

    class Entry:
        def __init__(self, real: os.DirEntry) -> None:
            self.name, self.real = real.name, real

        def stat(self, *, follow_symlinks: bool) -> os.stat_result:
            return stat(self.real)

    fakes["scandir"] = lambda fd: [Entry(e) if e.name == name else e for e in real_scandir(fd)]


def _young_file(p, fakes, make):
    make(p / "young.png", age=YOUNG)
    return []


def _kept_name(p, fakes, make):
    make(p / ".gitkeep", age=OLD)
    return []


def _special_file(p, fakes, make):
    os.mkfifo(p / "fifo")
    return [f"INFO skipping {p}/fifo: not a regular file, symlink or directory"]


def _unstatable_file(p, fakes, make):
    make(p / "eio.png", age=OLD)

    def fail(entry: os.DirEntry) -> os.stat_result:
        raise OSError(errno.EIO, EIO)

    _entry_stat(fakes, "eio.png", fail)
    return [f"WARNING cannot stat {p}/eio.png: {EIO}"]


def _undeletable_file(p, fakes, make):
    make(p / "stuck.png", age=OLD)
    _fail(fakes, "unlink", "stuck.png")
    return [f"WARNING cannot delete {p}/stuck.png: {EIO}"]


def _mount_point(p, fakes, make):
    (p / "mnt").mkdir()

    def on_another_device(entry: os.DirEntry) -> os.stat_result:
        fields = list(entry.stat(follow_symlinks=False))
        fields[2] += 1  # st_dev
        return os.stat_result(fields)

    _entry_stat(fakes, "mnt", on_another_device)
    return [f"WARNING skipping {p}/mnt: another filesystem is mounted there"]


def _old_child(p, make, *, holding: bool = False) -> Path:
    child = p / CHILD
    child.mkdir()
    if holding:
        make(child / "young.png", age=YOUNG)
    os.utime(child, ((NOW - OLD).timestamp(),) * 2)
    return child


def _unopenable_dir(p, fakes, make):
    _old_child(p, make)
    _fail(fakes, "open", CHILD)
    return [f"WARNING cannot open {p}/{SHOWN}: {EIO}"]


def _unlistable_dir(p, fakes, make):
    inode = _old_child(p, make).stat().st_ino
    real_scandir = os.scandir

    def scandir(fd: int) -> object:
        if os.fstat(fd).st_ino == inode:
            raise OSError(errno.EIO, EIO)
        return real_scandir(fd)

    fakes["scandir"] = scandir
    return [f"WARNING cannot list {p}/{SHOWN}: {EIO}"]


def _swapped_dir(p, fakes, make):
    child = _old_child(p, make)

    def swap() -> None:
        child.rename(p / "moved-away")
        child.mkdir()

    _fail(fakes, "open", CHILD, then=swap)
    return [f"WARNING skipping {p}/{SHOWN}: replaced by something else during the run"]


def _dir_holding_a_young_file(p, fakes, make):
    _old_child(p, make, holding=True)
    return []


def _dir_that_cannot_be_removed(p, fakes, make):
    _old_child(p, make)
    _fail(fakes, "rmdir", CHILD)
    return [f"WARNING cannot remove directory {p}/{SHOWN}: {EIO}"]


def _dir_written_into(p, fakes, make):
    child = _old_child(p, make)
    _fail(fakes, "rmdir", CHILD, then=lambda: (child / "new.png").write_bytes(b"fresh"))
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
    caplog: pytest.LogCaptureFixture,
    stays: Callable,
    company: str,
) -> None:
    folder = media_root / "old-folder"
    folder.mkdir()
    fakes: dict[str, Callable] = {}
    expected = stays(folder, fakes, make_media_file)
    if company == "beside-a-fifo":
        os.mkfifo(folder / "pipe")
        expected.append(f"INFO skipping {folder}/pipe: not a regular file, symlink or directory")
    age_entry(folder, OLD)

    with faults(**fakes):
        summary = clean(media_root)

    assert folder.is_dir()
    assert sorted(notices(logged(caplog))) == sorted(expected)
    assert (summary.dirs_removed, summary.errors, summary.skipped) == (
        0,
        sum(line.startswith("WARNING cannot") for line in expected),
        sum(" skipping " in line for line in expected),
    )


# Large folders are counted in chunks (a progress report every PROGRESS_EVERY entries, and
# a pause whenever the walk goes down into a subfolder); what stays in an early chunk must
# still keep the folder once the later chunks held nothing that stays.
CHUNKED = {  # folder -> its entries in listing order: "y" young file, "o" old, "d" old dir
    "young-first": "yooooooooo",
    "young-first-and-last": "yooooooooy",
    "young-before-two-dirs": "ydd",
    "all-old": "oooooooooo",
}


@pytest.mark.parametrize("progress", [True, False], ids=["with-progress", "without"])
def test_folders_counted_in_chunks_stay_or_go_as_a_whole(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    progress: bool,
) -> None:
    monkeypatch.setattr(sweep, "PROGRESS_EVERY", 4)
    for folder, kinds in CHUNKED.items():
        for n, kind in enumerate(kinds):
            entry = media_root / folder / f"{n:02}"
            if kind == "d":
                entry.mkdir(parents=True)
                age_entry(entry, OLD)
            else:
                make_media_file(entry, age=YOUNG if kind == "y" else OLD, size=n)
        age_entry(media_root / folder, OLD)
    real_scandir = os.scandir
    in_order = lambda fd: sorted(real_scandir(fd), key=lambda e: e.name)  # noqa: E731
    seen: list[int] = []

    with faults(scandir=in_order):
        summary = delete_old_media(
            root=media_root, now=NOW, max_age=WEEK, dry_run=False,
            progress=(lambda s: seen.append(s.scanned)) if progress else None,
        )  # fmt: skip

    assert sorted(os.listdir(media_root)) == sorted(set(CHUNKED) - {"all-old"})
    assert sorted(os.listdir(media_root / "young-first-and-last")) == ["00", "09"]
    assert notices(logged(caplog)) == []  # no folder was tried while it held something
    assert counts(summary) == numbers(
        scanned=37, deleted=27, bytes_freed=sum(range(1, 9)) * 2 + 9 + sum(range(10)),
        dirs_removed=3,
    )  # fmt: skip
    assert bool(seen) is progress
