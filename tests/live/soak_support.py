"""A worker on the embedded broker, with event listeners and pings started and killed
against it: what tests/live/test_broker_soak.py asserts on and scripts/broker_soak.py
measures over a longer run (either on this checkout's backend/ or another's).
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from tests.live.processes import BACKEND_DIR, CELERY, ProcessRegistry, wait_for

EXCHANGES = ("celery", "celeryev", "celery.pidbox", "reply.celery.pidbox")


def soak_env(root: Path, *, event_expires_s: int, control_expires_s: int) -> dict[str, str]:
    """The environment of every process of one soak: its own broker folder and data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWER_", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{root / 'db.sqlite3'}",
        CELERY_BROKER_URL="filesystem://localhost//",
        CELERY_BROKER_FOLDER=str(root / "broker"),
        CELERY_RESULT_BACKEND=f"db+sqlite:///{root / 'results.sqlite3'}",
        CELERY_EVENT_QUEUE_EXPIRES=str(event_expires_s),
        CELERY_CONTROL_QUEUE_EXPIRES=str(control_expires_s),
        GENERATED_MEDIA_ROOT=str(root / "generated_media"),
        LOG_DIR=str(root / "logs"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def bindings(root: Path) -> dict[str, list[str]]:
    """The queues bound to each of Celery's exchanges, read from the control folder."""
    tables = {}
    for exchange in EXCHANGES:
        tables[exchange] = sorted(queue for _key, _pattern, queue in _table(root, exchange))
    return tables


def _table(root: Path, exchange: str) -> list:
    path = root / "broker" / "control" / f"{exchange}.exchange"
    for _attempt in range(100):  # kombu creates the file, then writes it: it may be empty
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return []
        except json.JSONDecodeError:
            time.sleep(0.01)
    raise AssertionError(f"{path} is not JSON: {path.read_text()!r}")


def broker_files(root: Path) -> int:
    """Every file under the broker folder: messages, exchange tables, leases."""
    return sum(len(files) for _dir, _subdirs, files in os.walk(root / "broker"))


def tree_cpu_s(process: subprocess.Popen) -> float:
    """User + system CPU seconds of `process` and its live descendants (the pool)."""
    leader = psutil.Process(process.pid)
    total = 0.0
    for member in [leader, *leader.children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def idle_cpu_share(process: subprocess.Popen, *, window_s: float) -> float:
    """The share of one core the process tree used over the next `window_s` seconds."""
    before, start = tree_cpu_s(process), time.monotonic()
    time.sleep(window_s)
    return (tree_cpu_s(process) - before) / (time.monotonic() - start)


def start_worker(
    processes: ProcessRegistry, root: Path, env: dict[str, str], backend: Path = BACKEND_DIR
) -> subprocess.Popen:
    """`make run`'s worker (embedded beat, events, a prefork pool of one); waits for its
    control queue to be bound."""
    argv = [CELERY, "-A", "config", "worker", "--beat", "--events", "--concurrency=1"]
    argv += [f"--schedule={root / 'celerybeat-schedule'}", "--hostname=soak@localhost"]
    worker = processes.start(argv, env=env, log=root / "worker.log", cwd=backend)
    wait_for(
        lambda: "soak@localhost.celery.pidbox" in bindings(root)["celery.pidbox"],
        timeout_s=60,
        what="the worker's control queue",
    )
    return worker


def start_and_kill(
    processes: ProcessRegistry,
    root: Path,
    env: dict[str, str],
    *,
    argv: list[str],
    exchange: str,
    count: int,
    backend: Path = BACKEND_DIR,
) -> None:
    """Start `count` copies of `argv` at once; SIGKILL them once each has bound its queue
    to `exchange` (a listener or a caller that dies before it could clean up)."""
    bound_before = set(bindings(root)[exchange])
    started = [
        processes.start([CELERY, "-A", "config", *argv], env=env, log=root / "cli.log", cwd=backend)
        for _ in range(count)
    ]
    wait_for(
        lambda: len(set(bindings(root)[exchange]) - bound_before) >= count,
        timeout_s=60,
        what=f"{count} x {argv[0]} to bind their queues",
    )
    for process in started:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def ping(root: Path, env: dict[str, str], backend: Path = BACKEND_DIR) -> str:
    """`celery inspect ping` run to its end; returns its output."""
    done = subprocess.run(
        [CELERY, "-A", "config", "inspect", "ping", "--timeout=1"],
        cwd=backend,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout + done.stderr
