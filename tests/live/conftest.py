"""Fixtures for modes 2-4: an in-process worker thread, and real worker processes.

Mode 2 uses Celery's CLASSIC pytest fixtures from `celery.contrib.pytest`, imported
explicitly below: pytest-celery 1.3 registers its own `celery_worker`, a Docker container
(celery/pytest-celery#442), which shadows the classic one and fails with DockerException
on machines without Docker. They are function-scoped on purpose: `celery_app` makes its
TestApp the current app only while the test runs (the session-scoped pair would keep it
current for the whole session, so every other test's `.delay()` would reach its worker).

Modes 3 and 4 start one `celery -A config worker` subprocess per stack and per session,
shared by every test of that stack; each test empties the stack's media folder and token
tables first. The session ends by asserting that no process the fixtures started survives.
"""

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
import pytest
import redis
from celery.contrib.pytest import celery_app, celery_worker  # classic, not pytest-celery's
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests.factories import OutstandingTokenFactory
from tests.live.processes import FlowerProcess, ProcessRegistry, wait_for
from tests.live.servers import (
    LIVE_AMQP_URL,
    LIVE_POSTGRES_URL,
    LIVE_REDIS_URL,
    is_reachable,
    require_server,
)
from tests.live.stack import LiveStack

__all__ = ["celery_app", "celery_worker"]  # re-exported as fixtures for tests/live

# Two test sessions on one machine at once (e.g. two checkouts) must not share these:
# each can name its own database and first Redis database number.
LIVE_DB = os.environ.get("LIVE_POSTGRES_DB") or "pm_live"
# Redis database numbers reserved for these tests.
_REDIS_BASE = int(os.environ.get("LIVE_REDIS_DB_BASE") or 10)
REDIS_BROKER_DB, REDIS_RESULTS_DB, REDIS_AMQP_RESULTS_DB = range(_REDIS_BASE, _REDIS_BASE + 3)


# --- mode 2: in-process worker thread ---------------------------------------------------
@pytest.fixture(scope="session")
def celery_config() -> dict:
    """The classic `celery_app` fixture's configuration: an in-memory broker and results."""
    return {
        "broker_url": "memory://",
        "broker_transport_options": {"polling_interval": 0.05},  # the default is 1 s
        "result_backend": "cache+memory://",
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": False,
        # The worker's timer thread sleeps up to this long; stopping the worker waits for it.
        "worker_timer_precision": 0.1,
    }


@pytest.fixture(scope="session")
def celery_includes() -> list[str]:
    # celery.ping for start_worker's readiness check; the tasks under their real names.
    return ["celery.contrib.testing.tasks", "maintenance.tasks"]


@pytest.fixture(scope="session")
def celery_worker_parameters() -> dict:
    # Stopping a worker can take about 10 s on some brokers, racing the default of 10 s.
    return {"shutdown_timeout": 30}


# --- modes 3 and 4: worker processes ------------------------------------------------------
@pytest.fixture(scope="session")
def live_processes() -> Iterator[ProcessRegistry]:
    """Every process the live fixtures start; at session end, none may be left running."""
    registry = ProcessRegistry()
    yield registry
    registry.stop_all()
    assert registry.survivors() == [], "live fixtures left processes behind"
    leftovers = [
        " ".join(child.cmdline())
        for child in psutil.Process().children(recursive=True)
        if "-A config" in " ".join(child.cmdline())
    ]
    assert leftovers == [], f"celery processes outlived the session: {leftovers}"


def _flush_redis(*db_numbers: int) -> None:
    for number in db_numbers:
        with redis.Redis.from_url(f"{LIVE_REDIS_URL}/{number}") as client:
            client.flushdb()


def _postgres_admin() -> psycopg.Connection:
    return psycopg.connect(f"{LIVE_POSTGRES_URL}/postgres", autocommit=True)


# Which servers each stack needs, as (name, url) pairs for `require_server`.
NEEDS = {
    "embedded": (),
    "servers": (("Redis", LIVE_REDIS_URL), ("PostgreSQL", LIVE_POSTGRES_URL)),
    "rabbitmq": (("RabbitMQ", LIVE_AMQP_URL), ("Redis", LIVE_REDIS_URL)),
}


def _embedded(root: Path) -> LiveStack:
    """Mode 3: the default embedded broker (kombu filesystem), SQLite files for data and results."""
    broker = root / "broker"
    for sub in ("queue", "control", "processed"):
        (broker / sub).mkdir(parents=True)
    return LiveStack(
        name="embedded",
        root=root,
        broker_url="filesystem://",
        result_backend=f"db+sqlite:///{root / 'results.sqlite3'}",
        database_url=f"sqlite:///{root / 'db.sqlite3'}",
        broker_transport_options={
            "data_folder_in": str(broker / "queue"),
            "data_folder_out": str(broker / "queue"),
            "control_folder": str(broker / "control"),
            "processed_folder": str(broker / "processed"),
            "store_processed": False,
            "polling_interval": 0.2,
        },
    )


def _servers(root: Path) -> LiveStack:
    """Mode 4: a Redis broker and result backend, and PostgreSQL for the data."""
    _flush_redis(REDIS_BROKER_DB, REDIS_RESULTS_DB)
    with _postgres_admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {LIVE_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {LIVE_DB}")
    return LiveStack(
        name="servers",
        root=root,
        broker_url=f"{LIVE_REDIS_URL}/{REDIS_BROKER_DB}",
        result_backend=f"{LIVE_REDIS_URL}/{REDIS_RESULTS_DB}",
        database_url=f"{LIVE_POSTGRES_URL}/{LIVE_DB}",
    )


def _rabbitmq(root: Path) -> LiveStack:
    """Mode 4, RabbitMQ variant: an AMQP broker, Redis results, an SQLite file for the data."""
    _flush_redis(REDIS_AMQP_RESULTS_DB)
    stack = LiveStack(
        name="rabbitmq",
        root=root,
        broker_url=LIVE_AMQP_URL,
        result_backend=f"{LIVE_REDIS_URL}/{REDIS_AMQP_RESULTS_DB}",
        database_url=f"sqlite:///{root / 'db.sqlite3'}",
    )
    client = stack.client()
    client.control.purge()  # messages a crashed earlier run may have left in the queue
    client.close()
    return stack


def _dispose(stack: LiveStack) -> None:
    if stack.name == "servers":
        with _postgres_admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {LIVE_DB} WITH (FORCE)")
        _flush_redis(REDIS_BROKER_DB, REDIS_RESULTS_DB)
    elif stack.name == "rabbitmq":
        _flush_redis(REDIS_AMQP_RESULTS_DB)
        client = stack.client()
        with client.connection_for_write() as connection:
            connection.default_channel.queue_delete(stack.queue)  # named for this session
        client.close()


@dataclass
class LiveStacks:
    running: dict[str, LiveStack]
    flower: FlowerProcess


@pytest.fixture(scope="session")
def live_stacks(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    live_processes: ProcessRegistry,
    django_db_setup: None,
    django_db_blocker,
) -> Iterator[LiveStacks]:
    """Every selected stack whose servers answer, plus Flower on the embedded one, at once.

    The processes boot side by side (Python start-up is most of their cost), while this
    process migrates each stack's database.
    """
    builders = {"embedded": _embedded, "servers": _servers, "rabbitmq": _rabbitmq}
    selected = {"embedded"} | {  # Flower watches the embedded stack
        item.callspec.params["live_stack"]
        for item in request.session.items
        if "live_stack" in getattr(getattr(item, "callspec", None), "params", {})
    }
    running: dict[str, LiveStack] = {}
    try:
        for name, build in builders.items():
            if name in selected and all(is_reachable(url) for _server, url in NEEDS[name]):
                running[name] = build(tmp_path_factory.mktemp(f"live-{name}"))
                running[name].launch_worker(live_processes)
        flower = running["embedded"].launch_flower(live_processes)
        with django_db_blocker.unblock():
            running["embedded"].open_database()
            if "rabbitmq" in running:  # same schema: copy the migrated SQLite file
                shutil.copyfile(
                    running["embedded"].root / "db.sqlite3", running["rabbitmq"].root / "db.sqlite3"
                )
            for stack in running.values():
                if stack.name != "embedded":
                    stack.open_database()  # a no-op check for the copied file
        for stack in running.values():
            stack.wait_until_ready()
        wait_for(flower.answers, timeout_s=45, what="flower to answer /healthcheck")
        yield LiveStacks(running=running, flower=flower)
    finally:
        for stack in running.values():
            if stack.worker is not None:
                # Only asked to stop here; `live_processes` waits for every process at once.
                live_processes.terminate(stack.worker)
        with django_db_blocker.unblock():
            for stack in running.values():
                stack.close_database()
        for stack in running.values():
            _dispose(stack)


@pytest.fixture
def live_stack(
    request: pytest.FixtureRequest, live_stacks: LiveStacks, django_db_blocker
) -> Iterator[LiveStack]:
    """The stack named by the test's parameter, with an empty media folder and token tables.

    Skips (or, under CI=true, fails) when the stack's servers did not answer. The test may
    use the ORM on `stack.alias`, the worker's own database, while it runs.
    """
    for server, url in NEEDS[request.param]:
        require_server(server, url)
    stack = live_stacks.running[request.param]
    assert stack.worker is not None
    if stack.worker.poll() is not None:
        pytest.fail(
            f"worker {stack.node} exited with {stack.worker.returncode}:\n{stack.log_tail()}"
        )
    stack.reset_media()
    with django_db_blocker.unblock():
        BlacklistedToken.objects.using(stack.alias).all().delete()
        OutstandingToken.objects.using(stack.alias).all().delete()
        get_user_model().objects.using(stack.alias).all().delete()
        yield stack


@pytest.fixture
def flower(live_stacks: LiveStacks) -> FlowerProcess:
    """Flower watching the embedded stack, with FLOWER_BASIC_AUTH set."""
    return live_stacks.flower


# --- data in the worker's world ------------------------------------------------------------
OLD = datetime(2020, 1, 1, tzinfo=UTC)  # long past any max age or safety margin
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def file_with_mtime(root: Path, name: str, mtime: datetime) -> Path:
    path = root / name
    path.write_bytes(b"x" * 10)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def mint_refresh_token(alias: str, *, exp: datetime, blacklisted: bool) -> OutstandingToken:
    """A refresh token signed by simplejwt, recorded in the database behind `alias`."""
    user, _ = get_user_model().objects.using(alias).get_or_create(username="live-user")
    return OutstandingTokenFactory.using(alias)(user=user, exp=exp, blacklisted=blacklisted)
