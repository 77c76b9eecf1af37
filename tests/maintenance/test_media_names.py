"""delete_old_media and names (pyfakefs): the keep list, odd and undecodable names."""

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.clock import OLD, YOUNG
from tests.logs import logged
from tests.maintenance.fake_tree import ROOT, clean, counts, expected
from tests.maintenance.media_support import MakeFile


def test_names_on_the_keep_list_are_never_deleted(
    fake_root: Path, make_media_file: MakeFile
) -> None:
    gitkeep = make_media_file(fake_root / ".gitkeep", age=timedelta(days=365))
    deep_gitkeep = make_media_file(fake_root / "a" / ".gitkeep", age=timedelta(days=365))
    readme = make_media_file(fake_root / "README.keep", age=timedelta(days=365))
    other = make_media_file(fake_root / "old.png", age=OLD)

    summary = clean(keep=(".gitkeep", "*.keep"))

    assert gitkeep.exists()
    assert deep_gitkeep.exists()
    assert readme.exists()
    assert not other.exists()
    assert counts(summary) == expected(scanned=5, deleted=1, bytes_freed=10)


def test_keep_patterns_match_whole_names_case_sensitively(
    fake_root: Path, make_media_file: MakeFile
) -> None:
    near_misses = [
        make_media_file(fake_root / name, age=OLD)
        for name in (".gitkeep.bak", "x.gitkeep", ".GITKEEP")
    ]

    summary = clean()

    assert not any(path.exists() for path in near_misses)
    assert counts(summary) == expected(scanned=3, deleted=3, bytes_freed=30)


@pytest.mark.parametrize(
    "name",
    [".hidden.png", "изображение.png", "画像 2026.png", "name with  spaces .png", "a\nb.png"],
    ids=["hidden", "cyrillic", "cjk-and-space", "spaces", "newline"],
)
def test_unusual_names_are_judged_like_any_other(
    fake_root: Path, make_media_file: MakeFile, name: str
) -> None:
    old = make_media_file(fake_root / "sub" / name, age=OLD)
    young = make_media_file(fake_root / "sub" / f"young{name}", age=YOUNG)

    summary = clean()

    assert not old.exists()
    assert young.exists()
    assert counts(summary) == expected(scanned=3, deleted=1, bytes_freed=10)


def test_non_utf8_byte_name_is_deleted_and_logged_with_escapes(
    fake_root: Path, make_media_file: MakeFile, caplog: pytest.LogCaptureFixture
) -> None:
    name = os.fsdecode(b"caf\xe9-\xff.png")  # Latin-1 bytes: not valid UTF-8
    old = make_media_file(fake_root / name, age=OLD)

    summary = clean(dry_run=True)

    assert old.exists()
    assert f"DEBUG would delete {ROOT}/caf\\xe9-\\xff.png" in logged(caplog)
    json.dumps(summary.as_dict())  # nothing undecodable leaks into the summary
    assert counts(clean()) == expected(scanned=1, deleted=1, bytes_freed=10)
    assert not old.exists()
