"""delete_old_media on fake trees (pyfakefs): other kinds, mounts, errors, dry run, summary.

The age cutoff at literal instants: test_media_cutoff.py. Links, names and directories:
test_media_links.py, test_media_names.py, test_media_dirs.py."""

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from tests.clock import OLD, YOUNG
from tests.logs import logged
from tests.maintenance.fake_tree import (
    OUTSIDE,
    ROOT,
    as_non_root,
    clean,
    counts,
    expected,
    tree,
)
from tests.maintenance.media_support import AgeEntry, MakeFile, faults


@pytest.mark.parametrize(
    "kind",
    [stat.S_IFIFO, stat.S_IFSOCK, stat.S_IFCHR, stat.S_IFBLK],
    ids=["fifo", "socket", "char-device", "block-device"],
)
def test_other_kinds_are_skipped_counted_and_never_opened(
    fs: FakeFilesystem,
    fake_root: Path,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
    kind: int,
) -> None:
    special = fake_root / "old-dir" / "special"
    fs.create_file(special, st_mode=kind | 0o644)
    age_entry(special, timedelta(days=60))
    age_entry(fake_root / "old-dir", OLD)
    opened: list[object] = []
    real_open = os.open
    spy = lambda path, *a, **kw: opened.append(path) or real_open(path, *a, **kw)  # noqa: E731

    with faults(open=spy):
        summary = clean()

    assert stat.S_IFMT(os.lstat(special).st_mode) == kind
    # The root, one component at a time, and the folder; the special file never.
    assert opened == ["/", "srv", "app", "generated_media", "old-dir"]
    assert logged(caplog) == [
        f"INFO skipping {ROOT}/old-dir/special: not a regular file, symlink or directory",
        f"INFO clean_generated_media summary: {summary.as_dict()}",
    ]  # and its old folder, not empty, is not even tried
    assert counts(summary) == expected(scanned=2, skipped=1)


def test_a_mount_point_is_not_crossed(
    fs: FakeFilesystem,
    fake_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fs.add_mount_point(str(ROOT / "old" / "mnt"))
    inside_mount = make_media_file(ROOT / "old" / "mnt" / "old.png", age=OLD)
    age_entry(ROOT / "old", OLD)
    beside = make_media_file(ROOT / "old.png", age=OLD)

    summary = clean()

    assert inside_mount.exists()
    assert not beside.exists()
    assert logged(caplog) == [
        f"WARNING skipping {ROOT}/old/mnt: another filesystem is mounted there",
        f"INFO clean_generated_media summary: {summary.as_dict()}",
    ]  # and its old parent, not empty, is not even tried
    assert counts(summary) == expected(scanned=3, deleted=1, bytes_freed=10, skipped=1)


# --- Errors ----------------------------------------------------------------------------


@as_non_root
def test_permission_error_on_one_file_is_counted_and_the_rest_still_goes(
    fake_root: Path, make_media_file: MakeFile, caplog: pytest.LogCaptureFixture
) -> None:
    locked = make_media_file(fake_root / "locked" / "old.png", age=OLD)
    others = [make_media_file(fake_root / f"old{n}.png", age=OLD) for n in range(3)]
    os.chmod(fake_root / "locked", 0o555)  # readable, but its entries cannot be unlinked

    summary = clean()

    assert locked.exists()
    assert not any(path.exists() for path in others)
    assert f"WARNING cannot delete {ROOT}/locked/old.png: Permission denied" in logged(caplog)
    assert counts(summary) == expected(scanned=5, deleted=3, bytes_freed=30, errors=1)


def test_file_removed_between_scan_and_unlink_is_not_an_error(
    fake_root: Path,
    make_media_file: MakeFile,
    caplog: pytest.LogCaptureFixture,
) -> None:
    racer = make_media_file(fake_root / "b-raced.png", age=OLD)
    others = [make_media_file(fake_root / name, age=OLD) for name in ("a.png", "c.png")]
    real_unlink = os.unlink

    def unlink_after_someone_else(name: str, *, dir_fd: int) -> None:
        if name == racer.name:
            real_unlink(racer)  # another process got there first
        real_unlink(name, dir_fd=dir_fd)

    with faults(unlink=unlink_after_someone_else):
        summary = clean()

    assert not racer.exists()
    assert not any(path.exists() for path in others)
    assert not [line for line in logged(caplog) if line.startswith("WARNING")]
    assert counts(summary) == expected(scanned=3, deleted=2, bytes_freed=20)


# --- Dry run and summary ---------------------------------------------------------------


@pytest.fixture
def mixed_tree(
    fs: FakeFilesystem, fake_root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    """A tree with something of every kind: old, young, kept, links, special, mounted."""
    make_media_file(fake_root / ".gitkeep", age=timedelta(days=400))
    make_media_file(fake_root / "old.png", age=OLD, size=100)
    make_media_file(fake_root / "young.png", age=YOUNG, size=100)
    make_media_file(fake_root / "x" / "y" / "old.webp", age=timedelta(days=30), size=1000)
    make_media_file(fake_root / "x" / "young.webp", age=timedelta(hours=1), size=1000)
    make_media_file(fake_root / "gone" / "deep" / "old.jpg", age=OLD, size=3)
    for directory in ("x", "x/y", "gone", "gone/deep"):
        age_entry(fake_root / directory, OLD)
    make_media_file(OUTSIDE / "target.png", age=timedelta(days=90))
    (fake_root / "old-link").symlink_to(OUTSIDE / "target.png")
    age_entry(fake_root / "old-link", OLD)
    (fake_root / "old-parent" / "young-child").mkdir(parents=True)  # keeps its old parent
    age_entry(fake_root / "old-parent", OLD)
    fs.create_file(fake_root / "pipe", st_mode=stat.S_IFIFO | 0o600)
    fs.add_mount_point(str(fake_root / "mnt"))
    make_media_file(fake_root / "mnt" / "old.png", age=OLD)


MIXED_TREE_RESULT = expected(
    scanned=15,
    deleted=4,
    bytes_freed=100 + 1000 + 3 + len(str(OUTSIDE / "target.png")),
    dirs_removed=3,  # x/y, gone/deep, gone; x keeps young.webp
    skipped=2,  # the FIFO and the mount point
)


@pytest.mark.usefixtures("mixed_tree")
def test_dry_run_deletes_nothing_and_its_plan_equals_the_real_run() -> None:
    before = tree(ROOT)

    plan = clean(dry_run=True)

    assert tree(ROOT) == before
    assert counts(plan) == {**MIXED_TREE_RESULT, "dry_run": True}

    result = clean()

    assert counts(result) == MIXED_TREE_RESULT
    assert sorted(tree(ROOT)) == [
        ".gitkeep",
        "mnt",
        "mnt/old.png",
        "old-parent",
        "old-parent/young-child",
        "pipe",
        "x",
        "x/young.webp",
        "young.png",
    ]
    assert {**counts(plan), "dry_run": False} == counts(result)


@pytest.mark.usefixtures("mixed_tree")
def test_summary_is_json_with_exactly_the_promised_keys_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    summary = clean()

    decoded = json.loads(json.dumps(summary.as_dict()))
    assert list(decoded) == [
        "root", "scanned", "deleted", "bytes_freed", "dirs_removed", "skipped", "errors",
        "dry_run", "completed", "duration_s", "root_missing",
    ]  # fmt: skip
    assert isinstance(decoded["duration_s"], float)
    assert decoded["duration_s"] >= 0
    summaries = [line for line in logged(caplog) if "clean_generated_media summary" in line]
    assert summaries == [f"INFO clean_generated_media summary: {summary.as_dict()}"]


def test_dry_run_logs_each_file_and_folder_a_real_run_would_remove(
    fake_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    old = make_media_file(fake_root / "a" / "b" / "old.png", age=OLD)
    for directory in ("a/b", "a"):
        age_entry(fake_root / directory, OLD)
    before = tree(fake_root)

    summary = clean(dry_run=True)

    assert old.exists()
    assert tree(fake_root) == before
    assert [line for line in logged(caplog) if line.startswith("DEBUG")] == [
        f"DEBUG would delete {ROOT}/a/b/old.png",
        f"DEBUG would remove directory {ROOT}/a/b",
        f"DEBUG would remove directory {ROOT}/a",
    ]  # the plan an operator reads, bottom-up as a real run removes
    assert counts(summary) == expected(
        scanned=3, deleted=1, bytes_freed=10, dirs_removed=2, dry_run=True
    )
