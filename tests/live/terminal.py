"""`make run` in a pseudo-terminal, as an operator starts it, stopped with a Ctrl-C typed
there: tests/live/test_make_run.py checks the exit, benchmarks/bench_shutdown.py times it.
"""

import os
import pty
import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Stopped:
    exit_status: int  # as a shell reports it: 130 when killed by SIGINT
    seconds: float  # from the Ctrl-C to the exit of make
    output: str


def make_run_and_ctrl_c(root: Path, *, idle_s: float = 2.0, repo: Path = REPO) -> Stopped:
    """`make run` on private folders under `root`: once the worker is ready and has idled
    `idle_s`, type Ctrl-C and wait for make to exit."""
    return make_target_and_ctrl_c("run", root, ready=b" ready.", idle_s=idle_s, repo=repo)


def make_target_and_ctrl_c(
    target: str,
    root: Path,
    *,
    ready: bytes | Callable[[], None],
    idle_s: float = 0.0,
    variables: dict[str, str] | None = None,
    repo: Path = REPO,
) -> Stopped:
    """Start `make <target>` in a pseudo-terminal on private folders under `root`; once
    `ready` is shown (or the `ready` callable has returned) and `idle_s` has passed, type
    Ctrl-C and wait for make to exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "MAKE", "MFLAGS"))}
    env.update(
        DATABASE_URL=f"sqlite:///{root / 'db.sqlite3'}",
        CELERY_BROKER_FOLDER=str(root / "broker"),
        CELERY_RESULT_BACKEND=f"db+sqlite:///{root / 'results.sqlite3'}",
        LOG_DIR=str(root / "logs"),
        GENERATED_MEDIA_ROOT=str(root / "generated_media"),
        DJANGO_SECRET_KEY="terminal-test-key",
        SCHEDULE=str(root / "celerybeat-schedule"),
        **(variables or {}),
    )
    pid, terminal = pty.fork()
    if pid == 0:  # the child: make, with the pseudo-terminal as its controlling terminal
        os.chdir(repo)
        os.execvpe("make", ["make", target], env)
    output = bytearray()
    try:
        if callable(ready):
            ready()
        else:
            deadline = time.monotonic() + 120
            while ready not in output:
                if time.monotonic() > deadline or not _read(terminal, output, 0.5):
                    raise RuntimeError(f"make {target} did not get ready:\n{_text(output)}")
        _drain_for(terminal, output, idle_s)
        typed = time.monotonic()
        os.write(terminal, b"\x03")  # the terminal sends SIGINT to its foreground group
        while not (done := os.waitpid(pid, os.WNOHANG))[0]:
            if time.monotonic() - typed > 60:
                raise RuntimeError(f"make {target} did not stop:\n{_text(output)}")
            _read(terminal, output, 0.05)
        seconds = time.monotonic() - typed
        while _read(terminal, output, 0.1):
            pass
    finally:
        os.close(terminal)
    code = os.waitstatus_to_exitcode(done[1])  # -N when killed by signal N
    return Stopped(code if code >= 0 else 128 - code, seconds, _text(output))


def _text(output: bytearray) -> str:
    return output.decode(errors="replace")


def _read(terminal: int, output: bytearray, timeout_s: float) -> bool:
    """Read what the terminal shows; False once it is closed."""
    if select.select([terminal], [], [], timeout_s)[0]:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # EIO: every process on the terminal has exited
            return False
        output += chunk
        return bool(chunk)
    return True


def _drain_for(terminal: int, output: bytearray, seconds: float) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        _read(terminal, output, left)
