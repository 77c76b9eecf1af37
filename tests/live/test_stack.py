"""The process registry behind the live fixtures leaves nothing running, forked children too."""

import os
import time
from pathlib import Path

import psutil

from tests.live.processes import ProcessRegistry, wait_for


def test_stop_all_kills_the_whole_process_group_and_survivors_says_so(tmp_path: Path) -> None:
    registry = ProcessRegistry()
    # A leader that ignores SIGTERM and forks a child: only SIGKILL of the group ends both.
    leader = registry.start(
        ["sh", "-c", "trap '' TERM; sleep 60 & echo $! > child.pid; wait"],
        env=os.environ,
        log=tmp_path / "out.log",
        cwd=tmp_path,
    )
    child_pid = int(wait_for(lambda: _read(tmp_path / "child.pid"), timeout_s=10, what="child"))
    assert set(registry.survivors()) == {leader.pid, child_pid}

    started = time.monotonic()
    registry.stop_all(grace_s=0.2)

    assert time.monotonic() - started < 5
    assert leader.returncode is not None
    # SIGKILL is sent to the group, but the orphaned child dies when the kernel next
    # schedules it: on a busy machine it can still read "running" for a moment.
    wait_for(lambda: _gone(child_pid), timeout_s=5, what="the killed child to be gone")
    assert registry.survivors() == []


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _read(path: Path) -> str | None:
    text = path.read_text().strip() if path.exists() else ""
    return text or None
