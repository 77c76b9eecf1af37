"""Deep trees: memory linear in depth, and any depth cleaned within any open-file limit.

Trees are built with `mkdir`/`open` on descriptors in a loop (no recursion, no long
paths). The targets (10,000 levels within 25 MB of an empty run; 5,000 levels under
`ulimit -n 1024`) are measured in child processes, where peak memory and the descriptor
limit are the child's own; the reopen rules are pinned in-process with a small budget.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from maintenance.media import walk
from maintenance.media.root import BACKEND_DIR
from tests.clock import MEDIA_NOW as NOW
from tests.logs import logged
from tests.maintenance.media_support import clean, counts, faults, numbers

OLD = (NOW - timedelta(days=30)).timestamp()
YOUNG = (NOW - timedelta(days=1)).timestamp()
DIR = os.O_RDONLY | os.O_DIRECTORY


def build_chain(root: Path, depth: int, name: str = "d") -> None:
    """`root/d/d/.../d` (`depth` folders, all old), with one old file at the bottom."""
    fd = os.open(root, DIR)
    for _ in range(depth):
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, DIR, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(os.open("bottom.png", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.utime("bottom.png", (OLD, OLD), dir_fd=fd)
    os.close(fd)
    fd = os.open(root, DIR)  # ages last: creating a child touches its parent's mtime
    for _ in range(depth):
        os.utime(name, (OLD, OLD), dir_fd=fd)
        child = os.open(name, DIR, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)


CHILD = """
import json, os, resource, sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
limit = int(sys.argv[2])
if limit:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
from loguru import logger
logger.remove()
logger.add(sys.stderr, level="INFO")
from maintenance.media import delete_old_media
summary = delete_old_media(root=Path(sys.argv[1]), now=datetime(2026, 3, 1, 3, tzinfo=timezone.utc),
    max_age=timedelta(days=7), dry_run=False)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"summary": summary.as_dict(), "peak_kb": peak}))
"""


def run_child(root: Path, *, nofile: int = 0) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(nofile)],
        env={**os.environ, "PYTHONPATH": str(BACKEND_DIR)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A folder on tmpfs where there is one (/dev/shm), else tmp_path: on a busy disk each
    rmdir of a journaled filesystem can wait ms for the journal, which is not the walk."""
    if not os.access("/dev/shm", os.W_OK):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="media-depth-", dir="/dev/shm"))
    yield folder
    shutil.rmtree(folder)


def test_ten_thousand_levels_cost_at_most_25_mb_more_than_an_empty_root(scratch: Path) -> None:
    empty, deep = scratch / "empty", scratch / "deep"
    empty.mkdir()
    deep.mkdir()
    build_chain(deep, 10_000)

    baseline = run_child(empty)["peak_kb"]
    measured = run_child(deep)

    assert os.listdir(deep) == []  # cleaned to the bottom, every emptied old level removed
    assert measured["summary"]["deleted"] == 1
    assert measured["summary"]["dirs_removed"] == 10_000
    assert measured["summary"]["errors"] == 0
    assert measured["peak_kb"] - baseline <= 25 * 1024, (baseline, measured["peak_kb"])


def test_five_thousand_levels_are_cleaned_to_the_bottom_under_ulimit_n_1024(
    scratch: Path,
) -> None:
    root = scratch / "deep"
    root.mkdir()
    build_chain(root, 5_000)

    summary = run_child(root, nofile=1024)["summary"]

    assert os.listdir(root) == []
    assert (summary["deleted"], summary["dirs_removed"], summary["errors"]) == (1, 5_000, 0)


# --- The reopen rules, in-process with a budget of a few descriptors -------------------------


@pytest.fixture
def dirs_first() -> Iterator[None]:
    """List subdirectories first, so a level's files are reached after it was closed."""
    real_scandir = os.scandir
    with faults(
        scandir=lambda fd: sorted(
            real_scandir(fd), key=lambda e: (not e.is_dir(follow_symlinks=False), e.name)
        )
    ):
        yield


def warnings(log: list[str]) -> list[str]:
    return [line for line in log if line.startswith("WARNING")]


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def budget_of_three(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walk, "MAX_OPEN_DIRS", 3)


@pytest.mark.usefixtures("dirs_first", "budget_of_three")
def test_levels_closed_for_the_budget_are_reopened_and_finished(media_root: Path) -> None:
    build_chain(media_root, 12)
    level = media_root
    for depth in range(12):
        level = level / "d"
        for name, mtime in ((f"old-{depth}.png", OLD), (f"young-{depth}.png", YOUNG)):
            (level.parent / name).write_bytes(b"x")
            os.utime(level.parent / name, (mtime, mtime))
        # A young link to the old file: judged by its own age, as in any other level.
        (level.parent / f"link-{depth}").symlink_to(f"old-{depth}.png")
        os.utime(level.parent / f"link-{depth}", (YOUNG, YOUNG), follow_symlinks=False)
        os.utime(level, (OLD, OLD))
    before = open_descriptors()

    summary = clean(media_root)

    assert open_descriptors() == before
    level, left = media_root, []
    for _ in range(12):
        left.append(sorted(os.listdir(level)))
        level = level / "d"
    assert left == [["d", f"link-{n}", f"young-{n}.png"] for n in range(11)] + [
        ["link-11", "young-11.png"]
    ]
    assert counts(summary) == numbers(scanned=49, deleted=13, bytes_freed=12, dirs_removed=1)


@pytest.mark.usefixtures("dirs_first", "budget_of_three")
def test_a_level_whose_child_was_moved_away_is_left_for_the_next_run(
    media_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`a` is closed while the walk is in a/b/c/d; then a/b is moved out of the root.
    Back from b, `..` is no longer `a`: a's rest waits for the next run, and the walk goes
    on in the root, through `y` (deep enough to close and reopen levels again)."""
    build_chain(media_root, 4, name="x")
    build_chain(media_root, 5, name="y")
    a = media_root / "x"
    (a / "zz-old.png").write_bytes(b"x")
    os.utime(a / "zz-old.png", (OLD, OLD))
    os.utime(a, (OLD, OLD))
    real_unlink = os.unlink

    open_at_bottom = []

    def unlink(name: str, *, dir_fd: int) -> None:
        open_at_bottom.append(open_descriptors())  # the budget's levels, in x and in y
        if name == "bottom.png" and (a / "x").exists():  # x's bottom file, not y's
            os.rename(a / "x", tmp_path / "moved")
        real_unlink(name, dir_fd=dir_fd)

    with faults(unlink=unlink):
        summary = clean(media_root)

    assert warnings(logged(caplog)) == [
        f"WARNING cannot return to {a}: it was moved during the run; "
        "the rest of it is left for the next run"
    ]
    assert (a / "zz-old.png").exists()
    assert not (media_root / "y").exists()  # cleaned to the bottom, then removed
    assert len(open_at_bottom) == 2
    assert open_at_bottom[0] == open_at_bottom[1]  # as many descriptors open at each
    # dirs: the five of y, and the two emptied below the moved x/x before the walk noticed.
    assert (summary.errors, summary.deleted, summary.dirs_removed) == (1, 2, 7)
    assert clean(media_root).deleted == 1  # the next run finishes it
    assert os.listdir(a) == []  # (a itself stays: the move made it young)


@pytest.mark.usefixtures("dirs_first", "budget_of_three")
def test_a_level_that_cannot_be_reopened_is_one_more_error(
    media_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    build_chain(media_root, 5)
    real_open = os.open

    def failing(path: str, *args: object, **kwargs: object) -> int:
        if path == "..":
            raise OSError(24, "Too many open files")
        return real_open(path, *args, **kwargs)

    def refused(name: str, *, dir_fd: int) -> None:  # the bottom file: an error before it
        raise PermissionError(13, "Permission denied")

    before = open_descriptors()

    with faults(open=failing, unlink=refused):
        summary = clean(media_root)

    assert open_descriptors() == before
    assert warnings(logged(caplog)) == [
        f"WARNING cannot delete {media_root}/d/d/d/d/d/bottom.png: Permission denied",
        f"WARNING cannot return to {media_root}/d/d/d: Too many open files; "
        "the rest of it is left for the next run",
    ]
    assert summary.errors == 2
    assert (media_root / "d/d/d/d/d/bottom.png").exists()


@pytest.mark.usefixtures("budget_of_three")
def test_a_bug_below_the_budget_leaves_no_descriptor_open(media_root: Path) -> None:
    build_chain(media_root, 6)

    def unlink(name: str, *, dir_fd: int) -> None:
        raise RuntimeError("a bug, not an OSError")

    before = open_descriptors()

    with faults(unlink=unlink), pytest.raises(RuntimeError, match="a bug"):
        clean(media_root)

    assert open_descriptors() == before


def test_the_budget_follows_a_low_open_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert walk.open_dirs_budget() == min(walk.MAX_OPEN_DIRS, soft // 8)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        assert walk.open_dirs_budget() == 8
        resource.setrlimit(resource.RLIMIT_NOFILE, (12, hard))
        assert walk.open_dirs_budget() == 2
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
