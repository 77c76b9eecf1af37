"""Helpers of the media tests on a fake tree (pyfakefs) rooted at ROOT: one run, its counts."""

import os
from pathlib import Path

import pytest

from maintenance.media import MediaCleanupSummary, delete_old_media
from tests.clock import MEDIA_NOW, WEEK

ROOT = Path("/srv/app/generated_media")  # the `fake_root` fixture makes it
OUTSIDE = Path("/srv/outside")


# Not root: pyfakefs then enforces permission bits (as root it ignores them, like the kernel).
as_non_root = pytest.mark.parametrize("fs", [[None, None, None, False]], indirect=True)


def clean(*, dry_run: bool = False, keep: tuple[str, ...] = (".gitkeep",)) -> MediaCleanupSummary:
    return delete_old_media(root=ROOT, now=MEDIA_NOW, max_age=WEEK, dry_run=dry_run, keep=keep)


def counts(summary: MediaCleanupSummary) -> dict:
    """The summary without its clock reading, for exact comparison."""
    result = summary.as_dict()
    del result["duration_s"]
    return result


def expected(**numbers: int | bool) -> dict:
    base = dict(root=str(ROOT), scanned=0, deleted=0, bytes_freed=0, dirs_removed=0)
    base.update(skipped=0, errors=0, dry_run=False, completed=True, root_missing=False)
    base.update(numbers)
    return base


def tree(top: Path) -> dict[str, tuple[int, int]]:
    """Every entry below `top` (not following links) with its lstat mode and mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            found[os.path.relpath(os.path.join(dirpath, name), top)] = (st.st_mode, st.st_mtime_ns)
    return found
