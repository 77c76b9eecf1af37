"""Helpers shared by the media tests: one run at the weekly fire time, its counts, its log."""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

import maintenance.media
from maintenance.media import MediaCleanupSummary, delete_old_media, mounts, sweep, walk
from maintenance.media import root as root_module
from tests.clock import MEDIA_NOW, WEEK
from tests.os_view import OsView

MakeFile = Callable[..., Path]
AgeEntry = Callable[[Path, timedelta], Path]


def clean(root: Path, *, dry_run: bool = False) -> MediaCleanupSummary:
    return delete_old_media(root=root, now=MEDIA_NOW, max_age=WEEK, dry_run=dry_run)


def counts(summary: MediaCleanupSummary) -> dict:
    """The summary's numbers: everything but root, duration_s and dry_run."""
    result = summary.as_dict()
    del result["root"], result["duration_s"], result["dry_run"]
    return result


def numbers(**given: int | bool) -> dict:
    """All counts zero but those given, of a run that completed."""
    return {
        "scanned": 0, "deleted": 0, "bytes_freed": 0, "dirs_removed": 0, "skipped": 0,
        "errors": 0, "completed": True, "root_missing": False, **given,
    }  # fmt: skip


def snapshot(top: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under `top` (not following links): its mode, size and mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            found[os.path.join(dirpath, name)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


def notices(log: list[str]) -> list[str]:
    """WARNING and INFO lines but the summary: what an operator would read about items."""
    return [
        line
        for line in log
        if line.startswith(("WARNING", "INFO")) and "clean_generated_media summary" not in line
    ]


@contextmanager
def faults(**calls: Callable) -> Iterator[None]:
    """Within the block, the media cleanup calls the fakes given: `faults(unlink=...)`.

    `unlink` and `rmdir` are sweep.py's own names for them. The rest (`open`, `scandir`,
    `stat`, `readlink`, `realpath`) are replaced in the `os` each media module reads,
    seen through a view: `os` itself, which pytest and pyfakefs use too, stays whole.
    Undone at the end of the block, before any fixture (pyfakefs's too) is torn down.
    """
    with pytest.MonkeyPatch.context() as patch:
        for call, fake in calls.items():
            if call in ("unlink", "rmdir"):
                patch.setattr(sweep, call, fake)
                continue
            for module in (maintenance.media, root_module, walk, mounts):
                if call == "realpath":
                    view = OsView(module.os, path=OsView(module.os.path, realpath=fake))
                else:
                    view = OsView(module.os, **{call: fake})
                patch.setattr(module, "os", view)
        yield
