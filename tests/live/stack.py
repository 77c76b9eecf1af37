"""A live stack: one real `celery -A config worker` process, its broker, result backend,
database and media folder, all private to one test session, plus the client side a test
uses to reach them (a Celery client app and a Django database alias).
"""

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import dj_database_url
from celery import Celery
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from tests.live.processes import (
    CELERY,
    FlowerProcess,
    ProcessRegistry,
    free_port,
    wait_for,
)


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
        # The test process id makes the name unique on the machine: RabbitMQ holds a
        # worker's `<node>.celery.pidbox` queue exclusively, so a second session's worker
        # of the same name (another checkout, a run in parallel) failed with RESOURCE_LOCKED.
        return f"pmlive-{self.name}-{os.getpid()}@localhost"

    @property
    def queue(self) -> str:
        """The task queue of this stack's worker and clients.

        RabbitMQ's `celery` queue is shared by every session on the machine (one vhost),
        so another session's worker could take this one's tasks: that stack's queue is
        named for this process. The others are private already (own folder, Redis numbers).
        """
        return f"pmlive-{os.getpid()}" if self.name == "rabbitmq" else "celery"

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
            # The embedded broker's transport, as config/settings.py chooses it.
            broker_transport="config.broker:Transport" if self.name == "embedded" else None,
            broker_transport_options=self.broker_transport_options,
            result_backend=self.result_backend,
            task_serializer="json",
            result_serializer="json",
            accept_content=["json"],
            result_extended=True,
            broker_connection_retry_on_startup=True,
            task_default_queue=self.queue,
        )
        return app

    # --- database -------------------------------------------------------------------
    def open_database(self) -> None:
        """Register the worker's database as a Django alias in this process and migrate it."""
        open_alias(self.alias, self.database_url)

    def close_database(self) -> None:
        close_alias(self.alias)

    # --- worker ---------------------------------------------------------------------
    def launch_worker(self, processes: ProcessRegistry) -> None:
        """Start the worker process; `wait_until_ready` waits for it."""
        self.media_root.mkdir(parents=True, exist_ok=True)
        argv = [
            CELERY,
            "-A",
            "config",
            "worker",
            "--pool=solo",  # one process, no forked children: cheapest on 2 cores
            f"--hostname={self.node}",
            f"--queues={self.queue}",
            "--loglevel=INFO",
            "--without-mingle",
            "--without-gossip",
        ]
        self.worker = processes.start(argv, env=self.env, log=self.worker_log)

    def wait_until_ready(self, *, timeout_s: float = 45.0) -> None:
        """Wait until the worker answers a broadcast ping (`celery inspect ping`)."""
        client = self.client()
        try:
            wait_for(
                lambda: self._answers_ping(client),
                timeout_s=timeout_s,
                what=f"worker {self.node} to answer ping",
            )
        finally:
            client.close()

    def launch_flower(self, processes: ProcessRegistry) -> "FlowerProcess":
        """Start Flower on this stack's broker, with basic auth, on a free loopback port."""
        user, password = "ops", "flower-live-test"
        env = {**self.env, "FLOWER_BASIC_AUTH": f"{user}:{password}"}
        port = free_port()
        log = self.root / "flower.log"
        argv = [CELERY, "-A", "config", "flower", f"--port={port}"]
        process = processes.start(argv, env=env, log=log)
        return FlowerProcess(port=port, user=user, password=password, process=process, log=log)

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


def open_alias(alias: str, database_url: str) -> None:
    """Register the database at `database_url` as the Django alias `alias`, and migrate it."""
    configured = connections.configure_settings(
        {
            "default": dict(connections.settings["default"]),
            alias: dj_database_url.parse(database_url),
        }
    )
    connections.settings[alias] = configured[alias]
    logging.disable(logging.DEBUG)  # the schema editor logs every statement at DEBUG
    try:
        call_command("migrate", database=alias, interactive=False, verbosity=0)
    finally:
        logging.disable(logging.NOTSET)


def close_alias(alias: str) -> None:
    """Close and forget the alias `open_alias` registered, if it is there."""
    if alias in connections.settings:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]
