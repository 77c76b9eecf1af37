"""The media root against symlinks and swaps, on the real filesystem: an ancestor is never
followed, the root itself once; a swap while it is opened refuses the run.

pyfakefs is not used here: the hazards are real renames and links racing a real open.
"""

import json
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from maintenance.media import MediaRootError
from tests.clock import MEDIA_NOW as NOW
from tests.logs import logged
from tests.maintenance.media_support import MakeFile, clean, counts, faults, numbers

OLD = timedelta(days=30)


# --- Symlinks: the root may be one, an ancestor may not ------------------------------------


def test_a_symlinked_ancestor_refuses_the_run_and_nothing_behind_it_changes(
    tmp_path: Path, make_media_file: MakeFile
) -> None:
    decoy = make_media_file(tmp_path / "elsewhere" / "media" / "old.png", age=OLD)
    (tmp_path / "site").symlink_to(tmp_path / "elsewhere")

    with pytest.raises(MediaRootError) as raised:
        clean(tmp_path / "site" / "media")

    assert str(raised.value) == (
        f"GENERATED_MEDIA_ROOT={tmp_path}/site/media is refused: {tmp_path}/site is a symlink "
        "(swapped in, or configured); only the root itself may be a link, so nothing was "
        "cleaned: set the real path"
    )
    assert decoy.exists()


def test_a_root_link_is_followed_once_and_logged_but_not_a_second_link(
    tmp_path: Path, make_media_file: MakeFile, caplog: pytest.LogCaptureFixture
) -> None:
    old = make_media_file(tmp_path / "data" / "media" / "old.png", age=OLD)
    (tmp_path / "media").symlink_to("data/media")
    (tmp_path / "again").symlink_to("media")

    summary = clean(tmp_path / "media")

    assert summary.root == f"{tmp_path}/data/media"  # the directory actually cleaned
    assert not old.exists()
    assert counts(summary) == numbers(scanned=1, deleted=1, bytes_freed=10)
    assert logged(caplog)[0] == (
        f"INFO generated media root {tmp_path}/media is a symlink to data/media: "
        f"cleaning {tmp_path}/data/media"
    )
    with pytest.raises(MediaRootError, match=r"/media is a symlink \(swapped in, or configured"):
        clean(tmp_path / "again")


def refusal_of(root: Path) -> str:
    with pytest.raises(MediaRootError) as raised:
        clean(root)
    return str(raised.value)


def changed_line(root: Path, changed: Path) -> str:
    return (
        f"GENERATED_MEDIA_ROOT={root} is refused: {changed} changed while it was being opened "
        "(an ancestor swapped?), so nothing was cleaned"
    )


@pytest.mark.parametrize("link", [True, False], ids=["parent-now-a-link", "parent-moved-away"])
def test_a_swap_between_opening_and_checking_the_root_refuses_the_run(
    tmp_path: Path, make_media_file: MakeFile, link: bool
) -> None:
    """The parent is swapped just after the root was opened through it: the descriptor
    and the path no longer name the same folder (or the path names nothing)."""
    root = tmp_path / "site" / "media"
    kept = make_media_file(root / "old.png", age=OLD)
    decoy = make_media_file(tmp_path / "outside" / "media" / "old.png", age=OLD)
    real_stat = os.stat

    def stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if path == str(root):
            os.rename(tmp_path / "site", tmp_path / "site.moved")
            if link:
                os.symlink(tmp_path / "outside", tmp_path / "site")
        return real_stat(path, *args, **kwargs)

    with faults(stat=stat):
        refusal = refusal_of(root)

    assert refusal == changed_line(root, root)
    assert decoy.exists()
    assert (tmp_path / "site.moved" / "media" / kept.name).exists()


@pytest.mark.parametrize("then", ["gone", "back"])
def test_a_parent_that_was_a_link_only_while_it_was_opened_refuses_the_run(
    tmp_path: Path, make_media_file: MakeFile, then: str
) -> None:
    """The open meets a link; by the time the walk looks, the name is gone or a folder
    again. Either way the path moved under the open: the run is refused, not misreported."""
    root = tmp_path / "site" / "media"
    kept = make_media_file(root / "old.png", age=OLD)
    decoy = make_media_file(tmp_path / "outside" / "media" / "old.png", age=OLD)
    real_open = os.open

    def racing_open(name: str, flags: int, **kwargs: int) -> int:
        if name != "site":
            return real_open(name, flags, **kwargs)
        os.rename(tmp_path / "site", tmp_path / "site.real")
        os.symlink(tmp_path / "outside", tmp_path / "site")
        try:
            return real_open(name, flags, **kwargs)
        finally:
            os.unlink(tmp_path / "site")
            if then == "back":
                os.rename(tmp_path / "site.real", tmp_path / "site")

    with faults(open=racing_open):
        refusal = refusal_of(root)

    assert refusal == changed_line(root, tmp_path / "site")
    assert decoy.exists()
    assert (kept if then == "back" else tmp_path / "site.real" / "media" / "old.png").exists()


def test_a_root_link_replaced_before_it_is_read_refuses_the_run(
    tmp_path: Path, make_media_file: MakeFile
) -> None:
    """The root was a link when opened, a folder when read: no raw OSError, a refusal."""
    make_media_file(tmp_path / "data" / "old.png", age=OLD)
    root = tmp_path / "media"
    root.symlink_to(tmp_path / "data")
    real_readlink = os.readlink

    def readlink(name: str, **kwargs: int) -> str:
        if "dir_fd" in kwargs:  # the open's read, not realpath's
            root.unlink()
            root.mkdir()
        return real_readlink(name, **kwargs)

    with faults(readlink=readlink):
        refusal = refusal_of(root)

    assert refusal == changed_line(root, root)
    assert (tmp_path / "data" / "old.png").exists()


def test_a_link_vanishing_under_realpath_leaves_the_decision_to_the_open(
    media_root: Path, make_media_file: MakeFile
) -> None:
    old = make_media_file(media_root / "old.png", age=OLD)

    def vanished(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory", path)

    with faults(realpath=vanished):
        summary = clean(media_root)

    assert summary.deleted == 1
    assert not old.exists()


def test_an_ancestor_raced_into_a_symlink_never_leads_a_run_outside(
    tmp_path: Path, make_media_file: MakeFile
) -> None:
    """For a bounded time, one thread swaps the root's parent for a link to a folder of
    old decoys and back, while runs follow one another; every decoy survives, and each run
    cleaned the real root (and says so), was refused, or found no root."""
    site, outside = tmp_path / "site", tmp_path / "outside"
    decoys = [make_media_file(outside / "media" / f"d{n}" / "old.png", age=OLD) for n in range(20)]
    root = site / "media"
    root.mkdir(parents=True)
    real_root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    stop, swaps = threading.Event(), [0]

    def racer() -> None:
        while not stop.is_set():
            os.rename(site, tmp_path / "site.real")
            os.symlink(outside, site)
            time.sleep(0.0005)
            os.unlink(site)
            os.rename(tmp_path / "site.real", site)
            swaps[0] += 1
            time.sleep(0.0005)

    outcomes: dict[str, int] = {"cleaned": 0, "missing": 0}
    refusals: list[str] = []
    thread = threading.Thread(target=racer)
    thread.start()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and min(outcomes["cleaned"], len(refusals)) < 5:
            planted = os.open("new.png", os.O_WRONLY | os.O_CREAT, dir_fd=real_root_fd)
            os.close(planted)
            mtime = (NOW - OLD).timestamp()
            os.utime("new.png", (mtime, mtime), dir_fd=real_root_fd)
            try:
                summary = clean(root)
            except MediaRootError as error:
                refusals.append(str(error))
                continue
            if summary.root_missing:
                outcomes["missing"] += 1
            else:
                assert summary.root == str(root)
                assert summary.errors == 0
                outcomes["cleaned"] += 1
    finally:
        stop.set()
        thread.join()
        os.close(real_root_fd)

    assert all(decoy.exists() for decoy in decoys)
    assert swaps[0] > 0, swaps
    assert outcomes["cleaned"] > 0, (outcomes, len(refusals))
    assert [
        x for x in refusals if not x.startswith(f"GENERATED_MEDIA_ROOT={root} is refused: ")
    ] == []
    assert len(refusals) + outcomes["missing"] > 0, outcomes
    assert [x for x in refusals if "changed while" in x or "is a symlink" in x] == refusals


def test_summary_json_names_the_directory_cleaned(
    tmp_path: Path, make_media_file: MakeFile
) -> None:
    make_media_file(tmp_path / "real" / "old.png", age=OLD)
    (tmp_path / "link").symlink_to(tmp_path / "real")

    decoded = json.loads(json.dumps(clean(tmp_path / "link").as_dict()))

    assert decoded["root"] == str(tmp_path / "real")
