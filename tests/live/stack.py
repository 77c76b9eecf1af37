"""A live stack: one real `celery -A config worker` process, its broker, result backend,
database and media folder, all private to one test session, plus the client side a test
uses to reach them (a Celery client app and a Django database alias).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dj_database_url
from celery import Celery
from django.conf import settings
from django.core.management import call_command
from django.db import connections

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

    def start(self, argv: list[str], *, env: Mapping[str, str], log: Path) -> subprocess.Popen:
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=BACKEND_DIR,
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

    def stop_all(self) -> None:
        """Stop every started process; their warm shutdowns run side by side."""
        for process in self.started:
            self.terminate(process)
        for process in self.started:
            self.stop(process)

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
        """Pids of started processes, or members of their groups, that are still alive."""
        alive = []
        for process in self.started:
            if process.poll() is None:
                alive.append(process.pid)
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:  # pragma: no cover - a reused pgid owned by someone else
                continue
            alive.append(-process.pid)
        return alive


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveStack:
    """Where one worker process gets its messages, keeps its results and reads its data."""

    name: str
    root: Path
    broker_url: str
    result_backend: str
    database_url: str
    broker_transport_options: dict = field(default_factory=dict)
    worker: subprocess.Popen | None = None

    @property
    def alias(self) -> str:
        """The Django database alias under which the test process opens the worker's database."""
        return f"live_{self.name}"

    @property
    def media_root(self) -> Path:
        return self.root / "generated_media"

    @property
    def node(self) -> str:
        return f"pmlive-{self.name}@localhost"

    @property
    def worker_log(self) -> Path:
        return self.root / "worker.log"

    @property
    def env(self) -> dict[str, str]:
        """The environment of every process of this stack: worker, `celery call`, Flower."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWER_", "CELERY_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DJANGO_SECRET_KEY=settings.SECRET_KEY,  # the key the test process signs JWTs with
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=self.broker_url,
            CELERY_BROKER_FOLDER=str(self.root / "broker"),
            CELERY_RESULT_BACKEND=self.result_backend,
            GENERATED_MEDIA_ROOT=str(self.media_root),
            LOG_DIR=str(self.root / "logs"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def client(self) -> Celery:
        """A Celery client configured like the worker, as an operator's shell would be."""
        app = Celery(f"client-{self.name}", set_as_current=False)
        app.conf.update(
            broker_url=self.broker_url,
            broker_transport_options=self.broker_transport_options,
            result_backend=self.result_backend,
            task_serializer="json",
            result_serializer="json",
            accept_content=["json"],
            result_extended=True,
            broker_connection_retry_on_startup=True,
        )
        return app

    # --- database -------------------------------------------------------------------
    def open_database(self) -> None:
        """Register the worker's database as a Django alias in this process and migrate it."""
        config = dj_database_url.parse(self.database_url)
        configured = connections.configure_settings(
            {"default": dict(connections.settings["default"]), self.alias: config}
        )
        connections.settings[self.alias] = configured[self.alias]
        call_command("migrate", database=self.alias, interactive=False, verbosity=0)

    def close_database(self) -> None:
        if self.alias in connections.settings:
            connections[self.alias].close()
            del connections[self.alias]
            del connections.settings[self.alias]

    # --- worker ---------------------------------------------------------------------
    def start_worker(self, processes: ProcessRegistry, *, ready_timeout_s: float = 45.0) -> None:
        """Start the worker and wait until it answers a broadcast ping."""
        self.media_root.mkdir(parents=True, exist_ok=True)
        argv = [
            CELERY,
            "-A",
            "config",
            "worker",
            "--pool=solo",  # one process, no forked children: cheapest on 2 cores
            f"--hostname={self.node}",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
        ]
        self.worker = processes.start(argv, env=self.env, log=self.worker_log)
        client = self.client()
        try:
            wait_for(
                lambda: self._answers_ping(client),
                timeout_s=ready_timeout_s,
                what=f"worker {self.node} to answer ping",
            )
        finally:
            client.close()

    def _answers_ping(self, client: Celery) -> bool:
        if self.worker is not None and self.worker.poll() is not None:
            raise RuntimeError(f"worker {self.node} exited early:\n{self.log_tail()}")
        replies = client.control.ping(destination=[self.node], timeout=0.3)
        return any(self.node in reply for reply in replies)

    def log_tail(self, lines: int = 40) -> str:
        if not self.worker_log.exists():
            return "(no log)"
        return "\n".join(self.worker_log.read_text(errors="replace").splitlines()[-lines:])

    def reset_media(self) -> Path:
        """Empty the worker's media folder and return it."""
        shutil.rmtree(self.media_root, ignore_errors=True)
        self.media_root.mkdir(parents=True)
        return self.media_root
