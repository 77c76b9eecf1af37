"""The age cutoff, strict: an entry goes iff its mtime < now - max_age; literal pairs.

At the weekly fire time, Sunday 2026-03-01 03:00:00 UTC, with the 7-day max age, the
cutoff is 2026-02-22 03:00:00 UTC (POSIX 1771729200): a file last written one second
before it goes, one written exactly at it stays, and so does one from the future. The
comparison is exact to the nanosecond, whatever the time zone `now` is given in.
"""

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time

from maintenance.media import delete_old_media
from maintenance.tasks import clean_generated_media
from tests.clock import WEEK, utc
from tests.maintenance.media_support import counts, numbers

NOW = utc(2026, 3, 1, 3, 0, 0)
CUTOFF_NS = 1_771_729_200 * 10**9  # 2026-02-22 03:00:00 UTC


def write(path: Path, mtime: datetime, size: int = 10) -> Path:
    """A file of `size` bytes last modified at `mtime`, its parents made as needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    ns = int(mtime.timestamp()) * 10**9
    os.utime(path, ns=(ns, ns))
    return path


def clean(root: Path, *, now: datetime = NOW, max_age: timedelta = WEEK):
    return delete_old_media(root=root, now=now, max_age=max_age, dry_run=False)


EDGE = pytest.mark.parametrize(
    ("mtime", "kept"),
    [
        (utc(2026, 2, 22, 2, 59, 59), False),
        (utc(2026, 2, 22, 3, 0, 0), True),
        (utc(2026, 2, 22, 3, 0, 1), True),
        (utc(2026, 3, 1, 4, 0, 0), True),
    ],
    ids=["1s-older-than-7d-deleted", "exactly-7d-kept", "1s-younger-kept", "future-kept"],
)


@EDGE
@pytest.mark.parametrize("where", ["", "a/b/c/"], ids=["in-root", "three-levels-deep"])
def test_file_goes_iff_its_mtime_is_strictly_before_the_cutoff(
    media_root: Path, where: str, mtime: datetime, kept: bool
) -> None:
    judged = write(media_root / where / "judged.png", mtime, size=123)
    fresh = write(media_root / where / "fresh.png", utc(2026, 3, 1, 2, 0, 0), size=5)

    summary = clean(media_root)

    assert judged.exists() is kept
    assert fresh.exists()
    assert counts(summary) == numbers(
        scanned=2 + where.count("/"), deleted=0 if kept else 1, bytes_freed=0 if kept else 123
    )


@EDGE
def test_link_goes_by_its_own_mtime_and_its_target_stays(
    media_root: Path, tmp_path: Path, mtime: datetime, kept: bool
) -> None:
    target = write(tmp_path / "outside" / "target.png", utc(2026, 1, 1))
    link = media_root / "link.png"
    link.symlink_to(target)
    ns = int(mtime.timestamp()) * 10**9
    os.utime(link, ns=(ns, ns), follow_symlinks=False)

    summary = clean(media_root)

    assert os.path.lexists(link) is kept
    assert target.read_bytes() == b"x" * 10
    assert counts(summary) == numbers(
        scanned=1, deleted=int(not kept), bytes_freed=0 if kept else len(str(target))
    )


@EDGE
def test_empty_directory_goes_iff_its_mtime_is_strictly_before_the_cutoff(
    media_root: Path, mtime: datetime, kept: bool
) -> None:
    empty = media_root / "empty"
    empty.mkdir()
    ns = int(mtime.timestamp()) * 10**9
    os.utime(empty, ns=(ns, ns))

    summary = clean(media_root)

    assert empty.is_dir() is kept
    assert counts(summary) == numbers(scanned=1, dirs_removed=int(not kept))


@pytest.mark.parametrize(
    ("now", "cutoff_ns"),
    [
        (utc(2026, 3, 1, 3, 0, 0), CUTOFF_NS),
        (datetime(2026, 3, 1, 3, 0, 0, 123_456, tzinfo=UTC), CUTOFF_NS + 123_456_000),
        # A float holds this cutoff only to 256 ns: it would round 112 ns low, then up.
        (datetime(2026, 3, 1, 3, 0, 0, 6, tzinfo=UTC), CUTOFF_NS + 6_000),
        (datetime(2026, 3, 1, 3, 0, 0, 999_994, tzinfo=UTC), CUTOFF_NS + 999_994_000),
    ],
    ids=["whole-second-now", "now-with-microseconds", "float-would-round-down", "float-round-up"],
)
def test_the_cutoff_is_exact_to_the_nanosecond(
    media_root: Path, now: datetime, cutoff_ns: int
) -> None:
    mtimes = {
        "one-ns-older": cutoff_ns - 1,
        "at-cutoff": cutoff_ns,
        "one-ns-younger": cutoff_ns + 1,
    }
    for name, mtime_ns in mtimes.items():
        (media_root / name).write_bytes(b"x")
        os.utime(media_root / name, ns=(mtime_ns, mtime_ns))

    summary = clean(media_root, now=now)

    assert sorted(os.listdir(media_root)) == ["at-cutoff", "one-ns-younger"]
    assert counts(summary) == numbers(scanned=3, deleted=1, bytes_freed=1)


def test_now_in_another_time_zone_is_the_same_instant(media_root: Path) -> None:
    at_cutoff = write(media_root / "exactly-7d.png", utc(2026, 2, 22, 3, 0, 0))
    older = write(media_root / "7d-and-1s.png", utc(2026, 2, 22, 2, 59, 59))
    tokyo = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=9)))

    summary = clean(media_root, now=tokyo)

    assert at_cutoff.exists()
    assert not older.exists()
    assert counts(summary) == numbers(scanned=2, deleted=1, bytes_freed=10)


@pytest.mark.parametrize(
    ("mtime", "kept"),
    [(utc(2026, 3, 1, 1, 59, 59), False), (utc(2026, 3, 1, 2, 0, 0), True)],
    ids=["1h-and-1s-old-deleted", "exactly-1h-kept"],
)
def test_max_age_is_the_one_passed_in(media_root: Path, mtime: datetime, kept: bool) -> None:
    judged = write(media_root / "judged.png", mtime)

    summary = clean(media_root, max_age=timedelta(hours=1))

    assert judged.exists() is kept
    assert counts(summary) == numbers(scanned=1, deleted=int(not kept), bytes_freed=10 * (not kept))


def test_now_without_a_timezone_is_refused(media_root: Path) -> None:
    old = write(media_root / "old.png", utc(2026, 1, 1))

    with pytest.raises(ValueError, match="timezone-aware"):
        clean(media_root, now=datetime(2026, 3, 1, 3))

    assert old.exists()


@pytest.mark.eager
@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
@pytest.mark.parametrize(
    ("at", "kept"),
    [(utc(2026, 3, 1, 3, 0, 0), True), (utc(2026, 3, 1, 3, 0, 1), False)],
    ids=["at-the-fire-time-exactly-7d-kept", "1s-later-deleted"],
)
def test_the_task_takes_now_from_the_clock(media_root: Path, at: datetime, kept: bool) -> None:
    edge = write(media_root / "edge.png", utc(2026, 2, 22, 3, 0, 0))
    fresh = write(media_root / "fresh.png", utc(2026, 3, 1, 2, 0, 0))

    with freeze_time(at):
        summary = clean_generated_media.delay().get()

    assert edge.exists() is kept
    assert fresh.exists()
    assert (summary["scanned"], summary["deleted"]) == (2, 0 if kept else 1)
