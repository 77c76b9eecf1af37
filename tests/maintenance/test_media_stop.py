"""A media run asked to stop (`should_stop`): it ends at the next folder, keeping what it did.

On the real filesystem. Old files already found in an open folder are unlinked and
counted; no folder is removed unless its walk had finished; nothing else is touched.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest

from maintenance.media import delete_old_media
from maintenance.media.sweep import STOP_POLL_ENTRIES
from tests.clock import MEDIA_NOW as NOW
from tests.clock import WEEK
from tests.logs import logged
from tests.maintenance.media_support import AgeEntry, MakeFile

OLD = timedelta(days=30)


def stop_at_poll(number: int):
    """A `should_stop` that answers True from its `number`-th poll on, and counts them."""
    polls = []

    def should_stop() -> bool:
        polls.append(None)
        return len(polls) >= number

    should_stop.polls = polls
    return should_stop


def test_a_stop_before_the_walk_touches_nothing(
    media_root: Path, make_media_file: MakeFile
) -> None:
    old = make_media_file(media_root / "old.png", age=OLD, size=4)

    summary = delete_old_media(
        root=media_root, now=NOW, max_age=WEEK, dry_run=False, should_stop=lambda: True
    )

    assert old.exists()
    assert (summary.completed, summary.scanned, summary.deleted) == (False, 0, 0)


def test_a_stop_after_one_folder_keeps_it_done_and_leaves_the_others_whole(
    media_root: Path,
    make_media_file: MakeFile,
    age_entry: AgeEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("a", "b", "c"):
        for index in range(2):
            make_media_file(media_root / name / f"{index}.png", age=OLD, size=4)
        age_entry(media_root / name, OLD)
    should_stop = stop_at_poll(3)  # root, the first folder, then after it

    summary = delete_old_media(
        root=media_root, now=NOW, max_age=WEEK, dry_run=False, should_stop=should_stop
    )

    left = sorted(os.listdir(media_root))
    assert len(left) == 2  # the first folder walked is gone, emptied and old
    for name in left:
        assert sorted(os.listdir(media_root / name)) == ["0.png", "1.png"]
    assert (summary.completed, summary.deleted, summary.dirs_removed) == (False, 2, 1)
    assert (summary.bytes_freed, summary.errors) == (8, 0)
    assert len(should_stop.polls) == 3
    assert f"INFO clean_generated_media stopped as asked in {media_root}" in logged(caplog)


def test_old_files_found_before_the_stop_are_unlinked_and_counted(
    media_root: Path, make_media_file: MakeFile
) -> None:
    """The root's old files listed before its folder are pending when the stop comes."""
    for index in range(40):
        make_media_file(media_root / f"{index:02}.png", age=OLD, size=1)
    for candidate in (f"folder{n}" for n in range(20)):  # one the listing puts after a file
        (media_root / candidate).mkdir()
        listing = os.listdir(media_root)
        if listing.index(candidate) > 0:
            break
        (media_root / candidate).rmdir()
    folder = media_root / candidate
    make_media_file(folder / "inner.png", age=OLD, size=1)
    before_folder = listing[: listing.index(candidate)]
    assert before_folder

    summary = delete_old_media(
        root=media_root, now=NOW, max_age=WEEK, dry_run=False, should_stop=stop_at_poll(2)
    )

    assert sorted(os.listdir(media_root)) == sorted(set(listing) - set(before_folder))
    assert (folder / "inner.png").exists()
    assert (summary.completed, summary.deleted, summary.bytes_freed) == (
        False,
        len(before_folder),
        len(before_folder),
    )
    assert summary.scanned == len(before_folder) + 1  # and the folder itself


def test_a_large_flat_folder_stops_within_one_poll_interval(
    media_root: Path, make_media_file: MakeFile
) -> None:
    """Most media sits in the root itself: the stop comes between entries, not folders."""
    total = STOP_POLL_ENTRIES * 2 + 100
    for index in range(total):
        make_media_file(media_root / f"{index:05}.png", age=OLD, size=1)

    summary = delete_old_media(
        root=media_root, now=NOW, max_age=WEEK, dry_run=False, should_stop=stop_at_poll(2)
    )

    # Poll 1 before the root, poll 2 after STOP_POLL_ENTRIES entries: those are done.
    assert (summary.completed, summary.scanned) == (False, STOP_POLL_ENTRIES)
    assert summary.deleted == summary.bytes_freed == STOP_POLL_ENTRIES
    assert len(os.listdir(media_root)) == total - STOP_POLL_ENTRIES
