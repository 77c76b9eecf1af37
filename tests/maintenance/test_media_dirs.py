"""delete_old_media and directories (pyfakefs): emptied old ones go bottom-up; the root stays."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from maintenance.media import MediaRootError
from tests.clock import OLD, YOUNG
from tests.logs import logged
from tests.maintenance.fake_tree import ROOT, clean, counts, expected
from tests.maintenance.media_support import AgeEntry, MakeFile


def test_directories_the_run_empties_are_removed_bottom_up(
    fake_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_media_file(fake_root / "a" / "b" / "c" / "old.png", age=OLD)
    make_media_file(fake_root / "a" / "b" / "old.png", age=OLD)
    for directory in ("a/b/c", "a/b", "a"):
        age_entry(fake_root / directory, OLD)

    summary = clean()

    assert os.listdir(fake_root) == []
    removed = [line for line in logged(caplog) if line.startswith("DEBUG removed directory")]
    assert removed == [f"DEBUG removed directory {ROOT}/{d}" for d in ("a/b/c", "a/b", "a")]
    assert counts(summary) == expected(scanned=5, deleted=2, bytes_freed=20, dirs_removed=3)


def test_directory_is_judged_by_its_mtime_before_the_run(
    fake_root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    """Deleting a file bumps its directory's mtime; the rule looks at the mtime before."""
    young_outer = fake_root / "young"
    old_inner = young_outer / "old"
    make_media_file(old_inner / "old.png", age=OLD)
    age_entry(old_inner, OLD)
    age_entry(young_outer, YOUNG)

    summary = clean()

    assert young_outer.exists()
    assert not old_inner.exists()
    assert counts(summary) == expected(scanned=3, deleted=1, bytes_freed=10, dirs_removed=1)


def test_old_directory_that_still_holds_something_stays(
    fake_root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    young_file = make_media_file(fake_root / "old-dir" / "young.png", age=YOUNG)
    kept_dir = make_media_file(fake_root / "kept-dir" / ".gitkeep", age=OLD).parent
    age_entry(fake_root / "old-dir", OLD)
    age_entry(kept_dir, OLD)

    summary = clean()

    assert young_file.exists()
    assert (kept_dir / ".gitkeep").exists()
    assert counts(summary) == expected(scanned=4)


def test_old_directory_on_the_keep_list_stays_even_when_empty(
    fake_root: Path, age_entry: AgeEntry
) -> None:
    kept = fake_root / "cache.keep"
    kept.mkdir()
    age_entry(kept, OLD)

    summary = clean(keep=("*.keep",))

    assert kept.is_dir()
    assert counts(summary) == expected(scanned=1)


def test_the_root_is_never_removed(
    fake_root: Path, make_media_file: MakeFile, age_entry: AgeEntry
) -> None:
    make_media_file(fake_root / "old.png", age=OLD)
    age_entry(fake_root, timedelta(days=365))

    summary = clean()

    assert fake_root.is_dir()
    assert os.listdir(fake_root) == []
    assert counts(summary) == expected(scanned=1, deleted=1, bytes_freed=10)


def test_missing_root_gives_an_empty_summary_and_a_warning(
    fs: FakeFilesystem, caplog: pytest.LogCaptureFixture
) -> None:
    summary = clean()

    assert counts(summary) == expected(root_missing=True)
    assert f"WARNING generated media root {ROOT} does not exist; nothing to clean" in logged(caplog)
    assert not os.path.exists(ROOT)


def test_root_that_is_a_regular_file_is_refused_and_left_alone(fs: FakeFilesystem) -> None:
    fs.create_file(ROOT, contents="not a folder")

    with pytest.raises(MediaRootError, match=f"cannot open generated media root {ROOT}: "):
        clean()

    assert Path(ROOT).read_text() == "not a folder"
