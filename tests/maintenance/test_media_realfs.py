"""delete_old_media on the real filesystem: what pyfakefs could hide (links, FIFOs, bytes)."""

import os
import socket
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from tests.clock import MEDIA_NOW as NOW
from tests.clock import OLD, YOUNG
from tests.maintenance.media_support import AgeEntry, MakeFile, clean, counts, numbers, snapshot


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


def test_links_out_of_the_root_are_removed_by_their_own_age_and_targets_untouched(
    media_root: Path, outside: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    make_media_file(outside / "file.png", age=timedelta(days=90))
    make_media_file(outside / "dir" / "deep.png", age=timedelta(days=90))
    age_entry(outside / "dir", timedelta(days=90))
    before = snapshot(outside)
    links = {
        "old-to-file": (outside / "file.png", OLD),
        "young-to-file": (outside / "file.png", YOUNG),
        "old-to-dir": (outside / "dir", OLD),
        "young-to-dir": (outside / "dir", YOUNG),
        "old-broken": (outside / "missing", OLD),
        "young-broken": (outside / "missing", YOUNG),
    }
    for name, (target, age) in links.items():
        (media_root / name).symlink_to(target)
        age_entry(media_root / name, age)

    summary = clean(media_root)

    assert sorted(os.listdir(media_root)) == ["young-broken", "young-to-dir", "young-to-file"]
    assert snapshot(outside) == before
    freed = sum(len(str(target)) for name, (target, _) in links.items() if name.startswith("old"))
    assert counts(summary) == numbers(scanned=6, deleted=3, bytes_freed=freed)


@pytest.mark.timeout(10)
def test_directory_symlink_loops_do_not_hang(
    media_root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    (media_root / "a" / "b").mkdir(parents=True)
    (media_root / "a" / "b" / "up").symlink_to("../..", target_is_directory=True)
    (media_root / "ping").symlink_to("pong")
    (media_root / "pong").symlink_to("ping")
    old = make_media_file(media_root / "a" / "b" / "old.png", age=OLD)

    summary = clean(media_root)

    assert not old.exists()
    assert os.path.islink(media_root / "a" / "b" / "up")
    assert counts(summary) == numbers(scanned=6, deleted=1, bytes_freed=10)


@pytest.mark.timeout(10)  # opening a FIFO with no writer would block: a hang means it was opened
def test_fifo_and_socket_are_skipped_never_opened(
    media_root: Path, age_entry: AgeEntry, tmp_path: Path
) -> None:
    fifo = media_root / "pipe"
    os.mkfifo(fifo)
    age_entry(fifo, OLD)
    sock_path = media_root / "s"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(sock_path))
        age_entry(sock_path, OLD)

        summary = clean(media_root)

        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert counts(summary) == numbers(scanned=2, skipped=2)


def test_non_utf8_byte_names_are_deleted_and_kept_like_any_other(media_root: Path) -> None:
    root_bytes = os.fsencode(media_root)
    old_name, young_name = b"old-\xff\xfe.png", b"young-\xe9t\xe9.png"
    old_dir = os.path.join(root_bytes, b"\x80dir")
    os.mkdir(old_dir)
    for name, age in ((old_name, OLD), (young_name, YOUNG), (old_dir + b"/x.png", OLD)):
        path = os.path.join(root_bytes, name)
        with open(path, "wb") as handle:
            handle.write(b"12345")
        mtime = (NOW - age).timestamp()
        os.utime(path, (mtime, mtime))
    mtime = (NOW - OLD).timestamp()
    os.utime(old_dir, (mtime, mtime))

    summary = clean(media_root)

    assert sorted(os.listdir(root_bytes)) == [young_name]
    assert counts(summary) == numbers(scanned=4, deleted=2, bytes_freed=10, dirs_removed=1)


@pytest.fixture
def linked_root(tmp_path: Path, media_root: Path) -> Path:
    link = tmp_path / "configured"
    link.symlink_to(media_root, target_is_directory=True)
    return link


def test_root_configured_as_a_symlink_is_resolved_and_the_link_kept(
    linked_root: Path, media_root: Path, make_media_file: MakeFile
) -> None:
    old = make_media_file(media_root / "old.png", age=OLD)

    summary = clean(linked_root)

    assert summary.root == os.path.realpath(media_root)
    assert linked_root.is_symlink()
    assert not old.exists()
    assert counts(summary) == numbers(scanned=1, deleted=1, bytes_freed=10)


def test_dry_run_plan_equals_the_real_run_on_a_real_tree(
    media_root: Path, outside: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    make_media_file(media_root / "a" / "b" / "old.png", age=OLD, size=7)
    make_media_file(media_root / "a" / "young.png", age=YOUNG, size=7)
    make_media_file(media_root / "c" / "old.png", age=OLD, size=7)
    for directory in ("a", "a/b", "c"):
        age_entry(media_root / directory, OLD)
    (media_root / "link").symlink_to(outside)
    age_entry(media_root / "link", OLD)
    os.mkfifo(media_root / "pipe")
    before = snapshot(media_root)

    plan = clean(media_root, dry_run=True)

    assert snapshot(media_root) == before
    result = clean(media_root)
    expected = numbers(
        scanned=8, deleted=3, bytes_freed=14 + len(str(outside)), dirs_removed=2, skipped=1
    )
    assert counts(plan) == counts(result) == expected
    assert sorted(os.listdir(media_root)) == ["a", "pipe"]
    assert os.listdir(media_root / "a") == ["young.png"]
