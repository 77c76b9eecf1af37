"""Faults with real worker processes: concurrent runs, killed runs, an unreachable database.

The token scenarios run on Redis + PostgreSQL (mode 4) with two extra prefork workers
(one pool child each, prefetch 1) that consume a queue of their own and clean in
batches of TOKEN_CLEANUP_BATCH_SIZE=25, so a run over a few thousand tokens takes long
enough to overlap another run, or to be killed in the middle.
"""

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import pytest
import redis
from celery.result import AsyncResult
from django.db import OperationalError
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from maintenance.models import MaintenanceRun
from tests.live.conftest import (
    FAR_FUTURE,
    LIVE_DB,
    LIVE_REDIS_URL,
    OLD,
    REDIS_BROKER_DB,
    LiveStacks,
)
from tests.live.faults_support import (
    BATCH_SIZE,
    TOKENS_QUEUE,
    FaultWorker,
    TokenTable,
    TokenWorkers,
    launch_fault_worker,
    orphan_blacklist_rows,
    other_sessions,
    received_count,
    runs_of,
    seed_token_table,
    surviving_rows,
    wait_ready,
)
from tests.live.processes import ProcessRegistry, free_port, wait_for
from tests.live.servers import LIVE_POSTGRES_URL, require_server
from tests.live.stack import LiveStack

pytestmark = [pytest.mark.live, pytest.mark.faults, pytest.mark.timeout(90)]

SERVERS = pytest.param("servers", marks=pytest.mark.servers, id="redis+postgres")

NO_DATABASE_QUEUE = "pm-faults-nodb"
TOKEN_COUNT = 2000
RESULT_TIMEOUT_S = 60


def _servers_stack(live_stacks: LiveStacks) -> LiveStack:
    require_server("Redis", LIVE_REDIS_URL)
    require_server("PostgreSQL", LIVE_POSTGRES_URL)
    return live_stacks.running["servers"]


@dataclass
class FaultWorkers:
    tokens: TokenWorkers
    no_database: FaultWorker


@pytest.fixture(scope="module")
def fault_workers(
    live_stacks: LiveStacks,
    live_processes: ProcessRegistry,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FaultWorkers]:
    """Every extra worker of this module, booted side by side (start-up is most of the cost)."""
    stack = _servers_stack(live_stacks)
    root = tmp_path_factory.mktemp("faults")
    pair = TokenWorkers(stack, live_processes, root, [])
    pair.workers = [pair.launch(), pair.launch()]
    no_database = launch_fault_worker(
        stack,
        live_processes,
        root,
        name="nodb",
        queue=NO_DATABASE_QUEUE,
        pool="solo",
        env={
            # A PostgreSQL port where nothing listens.
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/{LIVE_DB}",
            "MAINTENANCE_RETRY_BACKOFF_S": "0",  # retry at once, not after 5, 10, 20 s
        },
    )
    wait_ready(stack, *pair.workers, no_database)
    yield FaultWorkers(tokens=pair, no_database=no_database)
    for worker in [*pair.workers, no_database]:
        live_processes.terminate(worker.process)


@pytest.fixture
def token_workers(fault_workers: FaultWorkers) -> TokenWorkers:
    """Two prefork workers consuming TOKENS_QUEUE, with TOKEN_CLEANUP_BATCH_SIZE small."""
    return fault_workers.tokens


@pytest.fixture
def no_database_worker(fault_workers: FaultWorkers) -> FaultWorker:
    """A worker, consuming NO_DATABASE_QUEUE, whose database is unreachable."""
    return fault_workers.no_database


@pytest.fixture
def token_table(live_stack: LiveStack, django_db_blocker) -> TokenTable:
    """TOKEN_COUNT tokens in the servers stack's PostgreSQL database (emptied first),
    and an empty run history."""
    with django_db_blocker.unblock():
        MaintenanceRun.objects.using(live_stack.alias).all().delete()
        return seed_token_table(
            live_stack.alias, count=TOKEN_COUNT, expired_exp=OLD, kept_exp=FAR_FUTURE
        )


def _assert_one_clean_run(alias: str, table: TokenTable) -> None:
    outstanding, blacklisted = surviving_rows(alias)
    assert outstanding == table.kept_ids
    assert blacklisted == table.blacklisted_ids & table.kept_ids
    assert orphan_blacklist_rows(alias) == 0


def _send_tokens_task(stack: LiveStack, queue: str = TOKENS_QUEUE) -> AsyncResult:
    client = stack.client()
    try:
        return client.send_task("clean_blacklisted_tokens", queue=queue)
    finally:
        client.close()


def _deleted_some(alias: str) -> bool:
    """At least one batch was committed, and the run is not over yet."""
    left = OutstandingToken.objects.using(alias).count()
    return TOKEN_COUNT - left >= 5 * BATCH_SIZE and left > TOKEN_COUNT // 2 + 10 * BATCH_SIZE


# --- two runs at once ----------------------------------------------------------------------
@pytest.mark.parametrize("live_stack", [SERVERS], indirect=True)
def test_two_workers_running_the_token_task_at_once_end_as_one_clean_run(
    live_stack: LiveStack, token_workers: TokenWorkers, token_table: TokenTable, django_db_blocker
) -> None:
    first = _send_tokens_task(live_stack)
    second = _send_tokens_task(live_stack)

    summaries = [result.get(timeout=RESULT_TIMEOUT_S, interval=0.05) for result in (first, second)]

    # Each worker took one message (prefetch 1 with acks_late), and the two runs overlapped.
    assert {first.worker, second.worker} == {worker.node for worker in token_workers.workers}
    with django_db_blocker.unblock():
        runs = runs_of(live_stack.alias, "clean_blacklisted_tokens")
        _assert_one_clean_run(live_stack.alias, token_table)
    assert [run.outcome for run in runs] == ["ok", "ok"]
    assert runs[1].started_at < runs[0].finished_at, "the two runs did not overlap"
    # Each read every kept row once, and skipped what the other had already deleted;
    # the rows each deleted add up to one clean run's. (How the work splits depends on
    # timing: the follower of the two may find every expired row already gone.)
    for summary in summaries:
        assert summary["scanned"] - summary["expired"] == len(token_table.kept_ids)
        assert summary["completed"] is True
    assert sum(s["outstanding_deleted"] for s in summaries) == len(token_table.expired_ids)
    assert sum(s["blacklisted_deleted"] for s in summaries) == token_table.expired_blacklisted


# --- a killed run --------------------------------------------------------------------------
@pytest.mark.parametrize("live_stack", [SERVERS], indirect=True)
def test_pool_process_killed_mid_run_is_redelivered_and_the_rerun_finishes_the_job(
    live_stack: LiveStack, token_workers: TokenWorkers, token_table: TokenTable, django_db_blocker
) -> None:
    result = _send_tokens_task(live_stack)
    with django_db_blocker.unblock():
        wait_for(
            lambda: _deleted_some(live_stack.alias), timeout_s=30, what="the run to be mid-way"
        )
    started = result.info  # STARTED state (task_track_started): the pool child's pid
    victim = psutil.Process(started["pid"])
    worker = token_workers.by_node(started["hostname"])
    assert victim in worker.pool_children()

    victim.send_signal(signal.SIGKILL)
    summary = result.get(timeout=RESULT_TIMEOUT_S, interval=0.05)

    # acks_late + reject_on_worker_lost: the parent requeued the message, and the same
    # task id ran again to the end; the killed attempt committed the batches before it.
    assert result.state == "SUCCESS"
    assert summary["completed"] is True
    assert 0 < summary["outstanding_deleted"] < len(token_table.expired_ids)
    logs = "".join(w.log_text() for w in token_workers.workers)
    assert "exited with 'signal 9 (SIGKILL)'" in logs
    assert received_count(logs, result.id) == 2
    with django_db_blocker.unblock():
        _assert_one_clean_run(live_stack.alias, token_table)
        runs = runs_of(live_stack.alias, "clean_blacklisted_tokens")
    assert [run.outcome for run in runs] == ["ok"]  # the killed attempt wrote no row
    assert runs[0].summary == summary


@pytest.mark.parametrize("live_stack", [SERVERS], indirect=True)
def test_whole_worker_killed_mid_run_then_a_fresh_worker_reruns_to_one_clean_run(
    live_stack: LiveStack, token_workers: TokenWorkers, token_table: TokenTable, django_db_blocker
) -> None:
    killed = _send_tokens_task(live_stack)
    with django_db_blocker.unblock():
        wait_for(
            lambda: _deleted_some(live_stack.alias), timeout_s=30, what="the run to be mid-way"
        )
    worker = token_workers.by_node(killed.info["hostname"])
    os.killpg(worker.process.pid, signal.SIGKILL)  # the parent and its pool child at once
    worker.process.wait(10)
    with django_db_blocker.unblock():
        # Its PostgreSQL session ends (rolling back any open batch) once the server sees
        # the socket close; only then is the table's state after the kill final.
        wait_for(
            lambda: other_sessions(live_stack.alias) == 0,
            timeout_s=10,
            what="the killed worker's database session to end",
        )
        left_after_kill = surviving_rows(live_stack.alias)
    # Nobody is left to requeue it: on Redis the message stays unacknowledged and is
    # restored after the visibility timeout (1 h by default), not lost.
    with redis.Redis.from_url(f"{LIVE_REDIS_URL}/{REDIS_BROKER_DB}") as broker:
        assert killed.id in broker.hget("unacked", _unacked_tag(broker, killed.id)).decode()
        broker.hdel("unacked", _unacked_tag(broker, killed.id))  # not for a later test
    # Still running as far as the result backend knows: STARTED, or PROGRESS once its
    # first batch was reported (maintenance.progress).
    assert killed.state in ("STARTED", "PROGRESS")

    token_workers.replace(worker)
    rerun = _send_tokens_task(live_stack).get(timeout=RESULT_TIMEOUT_S, interval=0.05)

    assert rerun["completed"] is True
    assert rerun["outstanding_deleted"] == len(left_after_kill[0]) - len(token_table.kept_ids)
    assert 0 < rerun["outstanding_deleted"] < len(token_table.expired_ids)
    with django_db_blocker.unblock():
        _assert_one_clean_run(live_stack.alias, token_table)


def _unacked_tag(broker: redis.Redis, task_id: str) -> bytes:
    """The delivery tag under which kombu keeps the unacknowledged message of `task_id`."""
    for tag, message in broker.hgetall("unacked").items():
        if task_id.encode() in message:
            return tag
    raise AssertionError(f"no unacknowledged message for {task_id}")


# --- the database unreachable when the task starts ----------------------------------------
@pytest.mark.parametrize("live_stack", [SERVERS], indirect=True)
def test_task_with_the_database_unreachable_retries_three_times_then_fails_clearly(
    live_stack: LiveStack, no_database_worker: FaultWorker
) -> None:
    result = _send_tokens_task(live_stack, queue=NO_DATABASE_QUEUE)

    wait_for(lambda: result.ready(), timeout_s=RESULT_TIMEOUT_S, what="the task to give up")

    assert result.state == "FAILURE"
    assert isinstance(result.result, OperationalError)
    assert "Connection refused" in str(result.result)
    assert result.retries == 3  # max_retries: four attempts in all
    task = f"clean_blacklisted_tokens[{result.id}]"

    def log_with_the_failure() -> str | None:
        text = no_database_worker.log_text()
        return text if f"Task {task} raised unexpected" in text else None

    # Celery stores the FAILURE result, then logs it (celery/app/trace.py, handle_failure):
    # `ready()` can be true a moment before the line is written.
    log = wait_for(log_with_the_failure, timeout_s=10, what="the worker to log the failure")
    assert log.count(f"Task {task} retry: Retry in 0s: OperationalError(") == 3
    error_lines = [line for line in log.splitlines() if f"Task {task} raised unexpected" in line]
    assert len(error_lines) == 1
    assert "| ERROR" in error_lines[0]
    assert "OperationalError(" in error_lines[0]
    # Each attempt also failed to write its history row, and said so.
    assert log.count("could not write the run history of clean_blacklisted_tokens") == 4
