"""Mount points under the media root: never entered, never deleted, whatever their device.

pyfakefs cannot model a bind mount (its mount points always get a device of their own, and
`statx` or /proc, which tell mounts by id, go to the real kernel), so the hazard is built
here with a real `mount --bind`. That needs root: without it the test skips with the
reason, and fails instead under CI=true (CI runs as root on a machine that can mount).
"""

import ctypes
import os
import platform
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from maintenance.media import mounts
from tests.logs import logged
from tests.maintenance.media_support import MakeFile, clean, counts, numbers

OLD = timedelta(days=30)
LIBC = ctypes.CDLL(None, use_errno=True)


def _cannot_mount(scratch: Path) -> str | None:
    if os.geteuid() != 0:
        return "mount --bind needs root"
    if shutil.which("mount") is None:
        return "no mount command"
    source, target = scratch / "probe-source", scratch / "probe-target"
    source.mkdir()
    target.mkdir()
    done = subprocess.run(["mount", "--bind", source, target], capture_output=True, text=True)
    if done.returncode != 0:
        return f"mount --bind failed: {done.stderr.strip()}"
    subprocess.run(["umount", target], check=True)
    return None


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[Callable[[Path, Path], None]]:
    """`bind(source, target)`: a real bind mount, unmounted after the test."""
    reason = _cannot_mount(tmp_path)
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must test bind mounts: {reason}")
        pytest.skip(reason)
    mounted: list[Path] = []

    def mount(source: Path, target: Path) -> None:
        subprocess.run(["mount", "--bind", source, target], check=True)
        mounted.append(target)

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", target], check=True)


def test_bind_mounts_of_the_same_filesystem_are_skipped_and_nothing_behind_them_goes(
    bind: Callable[[Path, Path], None],
    tmp_path: Path,
    media_root: Path,
    make_media_file: MakeFile,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outside_files = [
        make_media_file(tmp_path / "outside" / f"old-{n}.png", age=OLD) for n in range(10)
    ]
    outside_files.append(make_media_file(tmp_path / "outside" / "deep" / "old.png", age=OLD))
    single = make_media_file(tmp_path / "single.png", age=OLD)
    (media_root / "old-dir" / "volume").mkdir(parents=True)
    planted = make_media_file(media_root / "picture.png", age=OLD)
    ordinary = make_media_file(media_root / "old-dir" / "old.png", age=OLD)
    bind(tmp_path / "outside", media_root / "old-dir" / "volume")
    bind(single, planted)  # a file mount point: unlink would answer EBUSY
    assert os.stat(media_root / "old-dir" / "volume").st_dev == os.stat(media_root).st_dev

    summary = clean(media_root)

    assert all(path.exists() for path in outside_files)
    assert single.exists()
    assert not ordinary.exists()
    assert (media_root / "old-dir" / "volume").is_dir()  # its old parent stays: not empty
    assert sorted(line for line in logged(caplog) if line.startswith("WARNING")) == [
        f"WARNING skipping {media_root}/old-dir/volume: another filesystem is mounted there",
        f"WARNING skipping {media_root}/picture.png: another filesystem is mounted there",
    ]
    assert counts(summary) == numbers(scanned=4, deleted=1, bytes_freed=10, skipped=2)


# --- The mount-id probe and its fallbacks ---------------------------------------------------


class NoStatx:
    """A libc without `statx` (glibc before 2.28): only the raw system call."""

    syscall = LIBC.syscall


def test_statx_comes_from_libc_else_the_system_call_else_nothing() -> None:
    assert mounts.statx_function(LIBC, platform.machine()) is LIBC.statx
    assert mounts.statx_function(NoStatx(), "unknown-cpu") is None
    by_syscall = mounts.statx_function(NoStatx(), platform.machine())
    assert by_syscall is not None
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        st = os.fstat(fd)
        via_libc = mounts.by_statx(LIBC.statx)(fd, st)
        assert via_libc is not None
        assert mounts.by_statx(by_syscall)(fd, st) == via_libc
        assert mounts.by_fdinfo(fd, st) == via_libc  # the fallback reads the same id
    finally:
        os.close(fd)


def fake_statx(*, knows_mount_ids: bool) -> Callable[..., int]:
    """`statx` as statx(2) promises it: the descriptor itself only with AT_EMPTY_PATH and an
    empty path, and only the fields that were asked for and that this kernel knows."""

    def statx(fd: int, path: bytes, flags: int, mask: int, buffer: ctypes.Array) -> int:
        if path != b"" or not flags & mounts.AT_EMPTY_PATH:
            return -1
        st = os.fstat(fd)
        answered = mask & (mounts.STATX_INO | mounts.STATX_MNT_ID * knows_mount_ids)
        struct.pack_into("=I", buffer, 0, answered)
        struct.pack_into("=II", buffer, 136, os.major(st.st_dev), os.minor(st.st_dev))
        if answered & mounts.STATX_INO:
            struct.pack_into("=Q", buffer, 32, st.st_ino)
        if answered & mounts.STATX_MNT_ID:
            struct.pack_into("=Q", buffer, 144, 4242)
        return 0

    return statx


def test_the_probe_asks_for_the_inode_and_mount_id_and_trusts_only_what_came_back() -> None:
    fd = os.open("/", os.O_RDONLY)
    try:
        st = os.fstat(fd)
        assert mounts.by_statx(fake_statx(knows_mount_ids=True))(fd, st) == 4242
        # Linux before 5.8 answers without a mount id: no id, not a zero.
        assert mounts.by_statx(fake_statx(knows_mount_ids=False))(fd, st) is None
    finally:
        os.close(fd)


def test_a_probe_answers_none_rather_than_a_wrong_id(tmp_path: Path) -> None:
    probe = mounts.by_statx(LIBC.statx)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    os.close(fd)
    assert probe(fd, os.stat(tmp_path)) is None  # a closed descriptor
    assert mounts.by_fdinfo(fd, os.stat(tmp_path)) is None
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert probe(fd, os.stat("/")) is None  # not the file it was said to be
    finally:
        os.close(fd)


def test_the_probe_falls_back_to_fdinfo_then_to_nothing(fs: FakeFilesystem) -> None:
    """Under pyfakefs a descriptor is not the kernel's: statx disagrees, /proc is absent."""
    assert mounts.choose_probe(LIBC.statx) is None
    fs.create_file("/proc/self/fdinfo/3", contents="pos:\t0\nflags:\t0100000\n")  # Linux < 3.15
    assert mounts.by_fdinfo(3, os.stat("/")) is None


def test_without_statx_the_fdinfo_probe_is_chosen() -> None:
    assert mounts.choose_probe(None) is mounts.by_fdinfo
    assert mounts.choose_probe(lambda *args: -1) is mounts.by_fdinfo
    assert mounts.choose_probe(LIBC.statx) is not mounts.by_fdinfo


def test_a_system_that_cannot_tell_mounts_says_so_and_still_cleans(
    media_root: Path,
    make_media_file: MakeFile,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mounts, "PROBE", None)
    old = make_media_file(media_root / "a" / "old.png", age=OLD)

    summary = clean(media_root)

    assert not old.exists()
    assert logged(caplog)[0] == (
        "WARNING this system cannot tell mount points by mount id (no statx, no "
        "/proc/self/fdinfo): only mounts of other filesystems are skipped"
    )
    assert counts(summary) == numbers(scanned=2, deleted=1, bytes_freed=10)
