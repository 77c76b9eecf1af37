"""Which mount a directory descriptor is on: the mount id, as systemd-tmpfiles reads it.

A bind mount of the same filesystem keeps `st_dev`, so the device alone cannot tell a
mount point (issue 13). The kernel's mount id can: `statx` with `STATX_MNT_ID` (Linux
5.8+), called through ctypes because Python 3.11 has no `os.statx`. Fallback, for older
kernels or a libc without `statx`: the `mnt_id:` line of `/proc/self/fdinfo/<fd>`
(Linux 3.15+), one small read per directory. Where neither exists, `PROBE` is None and
the walk can only compare devices; it says so once per run, at WARNING. The mount id of
`/proc/self/mountinfo` was not chosen: read once, it misses mounts made during the run.

`statx` answers are checked against `os.fstat` of the same descriptor (device and inode),
so a descriptor that is not the kernel's (pyfakefs' fake ones) gives None, never a
wrong id.
"""

import ctypes
import os
import platform
import struct
from collections.abc import Callable

AT_EMPTY_PATH = 0x1000
AT_SYMLINK_NOFOLLOW = 0x100
STATX_INO = 0x100
STATX_MNT_ID = 0x1000
_STATX_SIZE = 256
# struct statx: stx_mask u32 at 0, stx_ino u64 at 32, stx_dev_major/minor u32 at 136/140,
# stx_mnt_id u64 at 144 (include/uapi/linux/stat.h).
_MASK, _INO, _DEV, _MNT_ID = struct.Struct("=I"), struct.Struct("=Q"), struct.Struct("=II"), 144
_SYS_STATX = {"x86_64": 332, "aarch64": 291, "riscv64": 291, "ppc64le": 383, "s390x": 379}

Probe = Callable[[int, os.stat_result], "int | None"]


def statx_function(libc: object, machine: str) -> Callable[..., int] | None:
    """libc's `statx` (glibc 2.28+, musl 1.2.3+), else the raw system call, else None."""
    found = getattr(libc, "statx", None)
    if found is not None:
        return found
    number = _SYS_STATX.get(machine)
    if number is None:
        return None
    syscall = libc.syscall  # type: ignore[attr-defined]
    return lambda *args: syscall(number, *args)


def by_statx(statx: Callable[..., int]) -> Probe:
    """A probe that asks `statx` for the mount id of a descriptor whose fstat is `st`."""
    buffer = ctypes.create_string_buffer(_STATX_SIZE)

    def mount_id(fd: int, st: os.stat_result) -> int | None:
        flags = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW
        if statx(fd, b"", flags, STATX_INO | STATX_MNT_ID, buffer) != 0:
            return None
        mask = _MASK.unpack_from(buffer)[0]
        ino = _INO.unpack_from(buffer, 32)[0]
        dev = os.makedev(*_DEV.unpack_from(buffer, 136))
        if not mask & STATX_MNT_ID or (dev, ino) != (st.st_dev, st.st_ino):
            return None
        return _INO.unpack_from(buffer, _MNT_ID)[0]

    return mount_id


def by_fdinfo(fd: int, st: os.stat_result) -> int | None:
    """The `mnt_id:` of `/proc/self/fdinfo/<fd>`, or None when it cannot be read."""
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as info:
            for line in info:
                if line.startswith(b"mnt_id:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def choose_probe(statx: Callable[..., int] | None) -> Probe | None:
    """The first probe that answers for a real descriptor of `/`: statx, fdinfo, or None."""
    fd = os.open("/", os.O_RDONLY)  # Python's descriptors are close-on-exec already
    try:
        st = os.fstat(fd)
        for probe in ([by_statx(statx)] if statx is not None else []) + [by_fdinfo]:
            if probe(fd, st) is not None:
                return probe
        return None
    finally:
        os.close(fd)


PROBE: Probe | None = choose_probe(
    statx_function(ctypes.CDLL(None, use_errno=True), platform.machine())
)
