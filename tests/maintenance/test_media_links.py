"""delete_old_media and symlinks (pyfakefs): judged by their own mtime, never followed."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from tests.clock import OLD, YOUNG
from tests.maintenance.fake_tree import OUTSIDE, ROOT, clean, counts, expected, tree
from tests.maintenance.media_support import AgeEntry, MakeFile


def test_old_link_to_a_file_outside_is_deleted_and_the_target_untouched(
    fs: FakeFilesystem, fake_root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    target = make_media_file(OUTSIDE / "precious.txt", age=timedelta(days=90), size=7)
    link = fake_root / "link.txt"
    link.symlink_to(target)
    age_entry(link, OLD)
    before = os.lstat(target)

    summary = clean()

    assert not os.path.lexists(link)
    assert target.read_bytes() == b"x" * 7
    assert os.lstat(target).st_mtime_ns == before.st_mtime_ns
    assert counts(summary) == expected(scanned=1, deleted=1, bytes_freed=len(str(target)))


@pytest.mark.parametrize("link_age", [OLD, YOUNG], ids=["old-link", "young-link"])
def test_link_to_a_directory_outside_is_never_followed(
    fake_root: Path, make_media_file: MakeFile, age_entry: AgeEntry, link_age: timedelta
) -> None:
    old_outside = [
        make_media_file(OUTSIDE / "photos" / f"{n}.png", age=timedelta(days=60)) for n in range(3)
    ]
    link = fake_root / "photos"
    link.symlink_to(OUTSIDE / "photos", target_is_directory=True)
    age_entry(link, link_age)
    before = tree(OUTSIDE)

    summary = clean()

    assert os.path.lexists(link) is (link_age == YOUNG)
    assert all(path.exists() for path in old_outside)
    assert tree(OUTSIDE) == before
    link_deleted = int(link_age == OLD)
    assert counts(summary) == expected(
        scanned=1, deleted=link_deleted, bytes_freed=link_deleted * len(str(OUTSIDE / "photos"))
    )


def test_link_is_judged_by_its_own_mtime_not_its_targets(
    fake_root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    young_target = make_media_file(OUTSIDE / "young.png", age=YOUNG)
    old_target = make_media_file(OUTSIDE / "old.png", age=timedelta(days=60))
    old_link = fake_root / "old-link"
    old_link.symlink_to(young_target)
    age_entry(old_link, OLD)
    young_link = fake_root / "young-link"
    young_link.symlink_to(old_target)
    age_entry(young_link, YOUNG)

    summary = clean()

    assert not os.path.lexists(old_link)
    assert os.path.lexists(young_link)
    assert young_target.exists()
    assert old_target.exists()
    assert counts(summary) == expected(scanned=2, deleted=1, bytes_freed=len(str(young_target)))


@pytest.mark.parametrize(("link_age", "gone"), [(OLD, True), (YOUNG, False)], ids=["old", "young"])
def test_broken_link_is_judged_like_any_link(
    fake_root: Path, age_entry: AgeEntry, link_age: timedelta, gone: bool
) -> None:
    link = fake_root / "dangling"
    link.symlink_to("/nowhere/at/all")
    age_entry(link, link_age)

    summary = clean()

    assert os.path.lexists(link) is not gone
    assert counts(summary) == expected(
        scanned=1, deleted=int(gone), bytes_freed=gone * len("/nowhere/at/all")
    )


@pytest.mark.timeout(10)
def test_directory_symlink_loop_does_not_hang(
    fake_root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    (fake_root / "a").mkdir()
    (fake_root / "a" / "back-to-root").symlink_to(fake_root, target_is_directory=True)
    (fake_root / "a" / "self").symlink_to(fake_root / "a", target_is_directory=True)
    old = make_media_file(fake_root / "a" / "old.png", age=OLD)

    summary = clean()

    assert not old.exists()
    assert os.path.lexists(fake_root / "a" / "back-to-root")
    assert os.path.lexists(fake_root / "a" / "self")
    assert counts(summary) == expected(scanned=4, deleted=1, bytes_freed=10)


def test_configured_root_that_is_a_symlink_is_resolved_once(
    fs: FakeFilesystem, make_media_file: MakeFile
) -> None:
    real_root = Path("/data/media")
    fs.create_dir(real_root)
    fs.create_dir(ROOT.parent)
    ROOT.symlink_to(real_root, target_is_directory=True)
    old = make_media_file(real_root / "old.png", age=OLD)
    young = make_media_file(real_root / "young.png", age=YOUNG)

    summary = clean()

    assert os.path.islink(ROOT)  # the configured link itself stays
    assert not old.exists()
    assert young.exists()
    assert counts(summary) == expected(root="/data/media", scanned=2, deleted=1, bytes_freed=10)
