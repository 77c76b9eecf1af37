"""The deployment of deploy/Procfile, run by honcho under one moving fake clock.

Every process (web, beat, workers, Flower) is started by honcho from the shipped Procfile,
with libfaketime preloaded (the PyPI `libfaketime` wheel carries the built library). The
clock is an offset from real time in one file that every process re-reads each second
(FAKETIME_TIMESTAMP_FILE): the test moves it by rewriting the file, jumping to just
before each fire time, and from there it runs at real speed. Not libfaketime's speed-up
(`x100`): that multiplies the time elapsed since each process's own start, so processes
started at different moments (a restarted beat) would disagree on the time. Monotonic
clocks stay real (FAKETIME_DONT_FAKE_MONOTONIC), so Celery's timers and sleeps are untouched.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from tests.live.processes import BACKEND_DIR, ProcessRegistry, wait_for
from tests.live.servers import servers_required
from tests.live.stack import LiveStack

ROOT = BACKEND_DIR.parent
HONCHO = str(Path(sys.executable).with_name("honcho"))
FLOWER_AUTH = ("ops", "topology-test")


def require_libfaketime() -> Path:
    """Return the preloadable libfaketime; skip without it, or fail under CI=true."""
    try:
        import libfaketime
    except ImportError:
        library = None
    else:
        library = Path(libfaketime.__file__).parent / "vendor/libfaketime/src/libfaketime.so.1"
    if library is not None and library.exists():
        return library
    reason = "libfaketime is not installed (pip install libfaketime): no fake clock"
    if servers_required():
        pytest.fail(f"{reason}, and CI=true requires it", pytrace=False)
    pytest.skip(reason)


class FakeClock:
    """The time every topology process sees: real time plus the offset in `path`."""

    def __init__(self, path: Path, library: Path) -> None:
        self.path = path
        self.library = library

    def set(self, moment: datetime) -> None:
        """Move every process's clock to `moment` (within a second), from where it runs on."""
        offset = moment.timestamp() - time.time()
        staged = self.path.with_suffix(".new")
        staged.write_text(f"{offset:+.3f}\n")  # libfaketime reads fractional seconds
        os.replace(staged, self.path)  # never a half-written file

    def now(self) -> datetime:
        offset = float(self.path.read_text())
        return datetime.fromtimestamp(time.time() + offset, UTC)

    @property
    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": str(self.library),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            # Re-read the file once in each new second of real time. libfaketime compares
            # whole seconds (`now - last_read > duration`), so "1" would mean up to 2 s late.
            "FAKETIME_CACHE_DURATION": "0",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }


class Topology:
    """honcho process groups of one deployment, their logs, clock and database."""

    def __init__(self, stack: LiveStack, clock: FakeClock, processes: ProcessRegistry) -> None:
        self.stack = stack
        self.clock = clock
        self.processes = processes
        self.groups: dict[str, subprocess.Popen] = {}
        self.log_start: dict[str, int] = {}  # where each group's current run begins in its log
        self.seen: dict[int, psutil.Process] = {}  # every process any group ever had

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **self.stack.env,
            **self.clock.env,
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),  # for tests.live.topology_settings
            "DJANGO_SETTINGS_MODULE": "tests.live.topology_settings",
            "GENERATED_MEDIA_HOSTS": "web1,web2",
            "FLOWER_BASIC_AUTH": ":".join(FLOWER_AUTH),
        }
        env.update(extra)
        return env

    def log(self, group: str) -> Path:
        return self.stack.root / f"{group}.log"

    def start(self, group: str, *process_types: str, port: int = 5000, **extra: str) -> None:
        """`honcho start -f deploy/Procfile <types>` as process group `group`."""
        argv = [HONCHO, "start", "-f", "deploy/Procfile", "-d", str(ROOT), "--no-colour"]
        argv += ["-p", str(port), *process_types]
        env = self.env(LOG_DIR=str(self.stack.root / f"logs-{group}"), **extra)
        self.log_start[group] = self.log(group).stat().st_size if self.log(group).exists() else 0
        self.groups[group] = self.processes.start(argv, env=env, log=self.log(group), cwd=ROOT)

    def remember_children(self) -> None:
        for group in self.groups.values():
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(group.pid).children(recursive=True):
                    self.seen.setdefault(child.pid, child)

    def stop(self, group: str) -> None:
        """Stop a group the way an operator would (SIGTERM to honcho), and wait for it."""
        self.remember_children()
        self.processes.stop(self.groups.pop(group), grace_s=30)

    def kill_celery(self, group: str) -> None:
        """SIGKILL the group's Celery processes (a host dying); honcho then exits."""
        self.remember_children()
        process = self.groups.pop(group)
        for child in psutil.Process(process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "celery" in " ".join(child.cmdline()):
                    child.send_signal(signal.SIGKILL)
        process.wait(30)

    def run_log(self, group: str) -> str:
        """The group's log since its latest start."""
        with self.log(group).open("rb") as log:
            log.seek(self.log_start[group])
            return log.read().decode(errors="replace")

    def wait_log(self, group: str, text: str, *, count: int = 1, timeout_s: float = 60) -> None:
        """Wait until `text` appears `count` times in the group's log since its latest start."""

        def logged() -> bool:
            process = self.groups.get(group)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{group} exited:\n{self.log(group).read_text()[-3000:]}")
            return self.run_log(group).count(text) >= count

        wait_for(logged, timeout_s=timeout_s, what=f"{count} x {text!r} in the {group} log")

    def stop_all(self) -> list[int]:
        """Stop every group; return the pids of any process of theirs still alive."""
        for group in list(self.groups):
            self.stop(group)
        alive = []
        for pid, process in self.seen.items():
            with contextlib.suppress(psutil.Error):
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
                    process.kill()
        return alive

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        """`python manage.py <args>` under the fake clock, as an operator on the host would."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BACKEND_DIR,
            env=self.env(LOG_DIR=str(self.stack.root / "logs-manage")),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
