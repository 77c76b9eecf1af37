"""Extra worker processes and a token table for the fault tests (tests/live/test_faults.py).

The fault workers share a stack's broker, result backend and database, but listen on
queues of their own, so the stack's session worker never takes their messages.
"""

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psutil
from django.contrib.auth import get_user_model
from django.db import connections
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance.models import MaintenanceRun
from tests.factories import signed_refresh_token
from tests.live.processes import CELERY, ProcessRegistry, wait_for
from tests.live.stack import LiveStack


@dataclass
class FaultWorker:
    """One `celery -A config worker` process started for a fault scenario."""

    node: str
    queue: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def pool_children(self) -> list[psutil.Process]:
        """The prefork pool's child processes (the ones that run the tasks)."""
        return psutil.Process(self.process.pid).children()


def launch_fault_worker(
    stack: LiveStack,
    processes: ProcessRegistry,
    root: Path,
    *,
    name: str,
    queue: str,
    pool: str,
    env: dict[str, str],
    config: tuple[str, ...] = (),
) -> FaultWorker:
    """Start a worker on `stack`'s broker that consumes only `queue`; `wait_ready` waits.

    `config` holds Celery settings as the worker's command line takes them after `--`
    (e.g. "worker.lost_wait=1"), for what no environment variable sets.
    """
    root.mkdir(parents=True, exist_ok=True)
    node = f"pmfault-{name}@localhost"
    argv = [
        CELERY,
        "-A",
        "config",
        "worker",
        f"--pool={pool}",
        "--concurrency=1",
        # With acks_late, one reserved message per worker: two workers take one each.
        "--prefetch-multiplier=1",
        f"--queues={queue}",
        f"--hostname={node}",
        "--loglevel=INFO",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]
    if config:
        argv += ["--", *config]
    log = root / f"{name}.log"
    full_env = {**stack.env, "LOG_DIR": str(root / f"logs-{name}"), **env}
    process = processes.start(argv, env=full_env, log=log)
    return FaultWorker(node=node, queue=queue, process=process, log=log)


def wait_ready(stack: LiveStack, *workers: FaultWorker, timeout_s: float = 45.0) -> None:
    """Wait until every worker answers a broadcast ping (and, prefork, has its pool child)."""
    client = stack.client()

    def answered() -> bool:
        for worker in workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker {worker.node} exited early:\n{worker.log_text()}")
        replies = client.control.ping(destination=[w.node for w in workers], timeout=0.3)
        nodes = {node for reply in replies for node in reply}
        return nodes == {w.node for w in workers}

    try:
        wait_for(answered, timeout_s=timeout_s, what="the fault workers to answer ping")
    finally:
        client.close()


def received_count(worker_log: str, task_id: str) -> int:
    """How many times the worker log says the message of `task_id` was received."""
    return len(re.findall(rf"Task clean_blacklisted_tokens\[{task_id}\] received", worker_log))


# --- a table of thousands of tokens ------------------------------------------------------
@dataclass(frozen=True)
class TokenTable:
    """The seeded rows, and what one clean run must leave of them (computed from the seed)."""

    expired_ids: frozenset[int]
    kept_ids: frozenset[int]
    blacklisted_ids: frozenset[int]

    @property
    def expired_blacklisted(self) -> int:
        return len(self.blacklisted_ids & self.expired_ids)


def seed_token_table(
    alias: str, *, count: int, expired_exp: datetime, kept_exp: datetime
) -> TokenTable:
    """`count` simplejwt-signed refresh tokens: every other one expired, every third blacklisted.

    Expiry alternates so each batch the cleanup reads holds both kinds.
    """
    user = get_user_model().objects.using(alias).create(username="fault-user")
    rows = []
    for number in range(count):
        exp = expired_exp if number % 2 == 0 else kept_exp
        jti = f"fault-{number:06d}"
        rows.append(
            OutstandingToken(
                user=user,
                jti=jti,
                token=signed_refresh_token(user_id=user.pk, jti=jti, exp=exp),
                created_at=exp - timedelta(days=1),
                expires_at=exp,
            )
        )
    created = OutstandingToken.objects.using(alias).bulk_create(rows, batch_size=1000)
    blacklisted = [row.pk for number, row in enumerate(created) if number % 3 == 0]
    BlacklistedToken.objects.using(alias).bulk_create(
        [BlacklistedToken(token_id=pk) for pk in blacklisted], batch_size=1000
    )
    return TokenTable(
        expired_ids=frozenset(row.pk for row in created if row.expires_at == expired_exp),
        kept_ids=frozenset(row.pk for row in created if row.expires_at == kept_exp),
        blacklisted_ids=frozenset(blacklisted),
    )


def surviving_rows(alias: str) -> tuple[set[int], set[int]]:
    """(ids of the outstanding rows left, token ids of the blacklist rows left)."""
    outstanding = set(OutstandingToken.objects.using(alias).values_list("pk", flat=True))
    blacklisted = set(BlacklistedToken.objects.using(alias).values_list("token_id", flat=True))
    return outstanding, blacklisted


def orphan_blacklist_rows(alias: str) -> int:
    """Blacklist rows whose outstanding token is gone (read with SQL, past the ORM)."""
    blacklist = BlacklistedToken._meta.db_table
    outstanding = OutstandingToken._meta.db_table
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {blacklist} b LEFT JOIN {outstanding} o "
            "ON o.id = b.token_id WHERE o.id IS NULL"
        )
        return cursor.fetchone()[0]


def other_sessions(alias: str) -> int:
    """How many other clients are connected to the PostgreSQL database behind `alias`."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"  # not autovacuum
        )
        return cursor.fetchone()[0]


def runs_of(alias: str, task: str) -> list[MaintenanceRun]:
    """The run-history rows of `task` in the database behind `alias`, oldest first."""
    return list(MaintenanceRun.objects.using(alias).filter(task=task).order_by("started_at"))


TOKENS_QUEUE = "pm-faults-tokens"
BATCH_SIZE = 25


@dataclass
class TokenWorkers:
    """Two prefork workers on the servers stack's broker, consuming TOKENS_QUEUE."""

    stack: LiveStack
    processes: ProcessRegistry
    root: Path
    workers: list[FaultWorker]
    started: int = 0

    def launch(self) -> FaultWorker:
        self.started += 1
        return launch_fault_worker(
            self.stack,
            self.processes,
            self.root,
            name=f"tokens{self.started}",
            queue=TOKENS_QUEUE,
            pool="prefork",
            env={"TOKEN_CLEANUP_BATCH_SIZE": str(BATCH_SIZE)},
            # How long the parent waits for a late result from a dead pool process before
            # it declares the job lost (and, with reject_on_worker_lost, requeues it).
            # Celery's default is 10 s; one is plenty when nothing can arrive late.
            config=("worker.lost_wait=1",),
        )

    def by_node(self, node: str) -> FaultWorker:
        return next(worker for worker in self.workers if worker.node == node)

    def replace(self, dead: FaultWorker) -> FaultWorker:
        """Start a fresh worker in place of `dead` (already killed) and wait for it."""
        fresh = self.launch()
        self.workers[self.workers.index(dead)] = fresh
        wait_ready(self.stack, fresh)
        return fresh
