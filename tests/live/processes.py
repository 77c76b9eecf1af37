"""The processes the live tests start (workers, Flower, make), and how to wait for them."""

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

BACKEND_DIR = Path(__file__).resolve().parents[2] / "backend"
CELERY = str(Path(sys.executable).with_name("celery"))
POLL_S = 0.05


def wait_for(condition: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    """Poll `condition` every POLL_S until it returns something truthy; fail after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_S)


class ProcessRegistry:
    """Every long-running process the live fixtures start, so none can outlive the session.

    Each process leads its own process group (`start_new_session`), so a stop signal
    reaches anything it forked.
    """

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(
        self, argv: list[str], *, env: Mapping[str, str], log: Path, cwd: Path = BACKEND_DIR
    ) -> subprocess.Popen:
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    @staticmethod
    def terminate(process: subprocess.Popen) -> None:
        """Ask the process group for a warm shutdown (SIGTERM) without waiting for it."""
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)

    def stop_all(self, *, grace_s: float = 1.0) -> None:
        """Stop every started process: SIGTERM them all, then SIGKILL whatever is left.

        The grace is short on purpose: nothing is running by then, and a worker on the
        filesystem broker spends about 4 s of its warm shutdown waiting for its timer
        thread (celery/utils/timer2.py), which no test here is about.
        """
        for process in self.started:
            self.terminate(process)
        deadline = time.monotonic() + grace_s
        for process in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))
        for process in self.started:
            _signal_group(process, signal.SIGKILL)
            process.wait(5)

    @staticmethod
    def stop(process: subprocess.Popen, *, grace_s: float = 15.0) -> None:
        """SIGTERM the process group (a warm shutdown), then SIGKILL it after `grace_s`."""
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
        if process.poll() is None:
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(5)
        _signal_group(process, signal.SIGKILL)  # anything the leader left in its group

    def survivors(self) -> list[int]:
        """Pids of started processes, and of members of their groups, still alive (not zombies)."""
        groups = {process.pid for process in self.started}
        alive = [process.pid for process in self.started if process.poll() is None]
        for candidate in psutil.process_iter():
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if (
                    candidate.pid not in alive
                    and os.getpgid(candidate.pid) in groups
                    and candidate.status() != psutil.STATUS_ZOMBIE
                ):
                    alive.append(candidate.pid)
        return alive


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class FlowerProcess:
    """`celery -A config flower` on a free port, configured by backend/flowerconfig.py."""

    port: int
    user: str
    password: str
    process: subprocess.Popen
    log: Path
    host: str = "127.0.0.1"  # how a URL names the address it serves: "[::1]" for IPv6

    def get(self, path: str, *, auth: tuple[str, str] | None = None) -> tuple[int, bytes]:
        """GET `path` from Flower; returns (status, body), 4xx/5xx included."""
        request = urllib.request.Request(f"http://{self.host}:{self.port}{path}")
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def api(self, path: str) -> Any:
        status, body = self.get(path, auth=(self.user, self.password))
        assert status == 200, (status, body[:200])
        return json.loads(body)

    def answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"flower exited early:\n{self.log.read_text(errors='replace')}")
        try:
            return self.get("/healthcheck")[0] == 200
        except OSError:
            return False
