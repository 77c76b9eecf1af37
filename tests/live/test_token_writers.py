"""Token cleanup on PostgreSQL while another writer blacklists the very tokens it deletes.

A blacklist row written for a token of a batch between the batch's two DELETEs used to
fail the batch's deferred foreign key at COMMIT (exit 1). Each batch now locks its
outstanding rows first (`SELECT ... FOR UPDATE`): such a write waits for the batch's
commit and then fails on the writer's side, and the cleanup finishes with exact counts.
"""

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import psycopg
import pytest
from django.test import override_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance import tokens
from maintenance.tokens import delete_expired_tokens
from tests.live.conftest import FAR_FUTURE, OLD, mint_refresh_token
from tests.live.faults_support import orphan_blacklist_rows, seed_token_table, surviving_rows
from tests.live.processes import BACKEND_DIR, ProcessRegistry, wait_for
from tests.live.stack import LiveStack

pytestmark = [pytest.mark.live, pytest.mark.faults, pytest.mark.timeout(120)]

SERVERS = pytest.param("servers", marks=pytest.mark.servers, id="redis+postgres")
BLACKLIST = BlacklistedToken._meta.db_table
OUTSTANDING = OutstandingToken._meta.db_table
INSERT = f"INSERT INTO {BLACKLIST} (token_id, blacklisted_at) VALUES (%s, now())"
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # OLD is long expired then, FAR_FUTURE still live

TOKENS = 3000  # every other one expired, every third blacklisted (seed_token_table)
CLEANERS = 2
BATCH_SIZE = 20
WINDOW = 2 * BATCH_SIZE  # the writer blacklists among the next expired rows the cleaners reach


class _ToTheLiveDatabase:
    """A database router that sends the token models to the live stack's PostgreSQL."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def db_for_write(self, model: type, **hints: object) -> str:
        return self.alias


def _waits_for_a_lock(admin: psycopg.Connection, pid: int) -> bool:
    row = admin.execute(
        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]
    ).fetchone()
    return row is not None and row[0] == "Lock"


@pytest.mark.parametrize("live_stack", [SERVERS], indirect=True)
def test_a_blacklist_write_into_a_batch_being_deleted_waits_for_it_then_fails_on_its_own_side(
    live_stack: LiveStack, django_db_blocker
) -> None:
    alias, url = live_stack.alias, live_stack.database_url
    with django_db_blocker.unblock():
        target = mint_refresh_token(alias, exp=OLD, blacklisted=False)
        mint_refresh_token(alias, exp=OLD, blacklisted=True)  # the batch's one blacklist row
        live = mint_refresh_token(alias, exp=FAR_FUTURE, blacklisted=True)
    writer: dict = {}

    def blacklist_target() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            writer["pid"] = connection.info.backend_pid
            try:
                connection.execute(INSERT, [target.pk])
            except psycopg.Error as error:
                writer["error"] = error

    thread = threading.Thread(target=blacklist_target)
    real_delete = tokens.delete_where_in

    def delete(model, column, ids, using):
        # Between the batch's blacklist DELETE and its outstanding DELETE: another writer
        # blacklists one of its tokens, and must be made to wait.
        if model is OutstandingToken and thread.ident is None:  # once, in the first batch
            thread.start()
            with psycopg.connect(url, autocommit=True) as admin:
                wait_for(
                    lambda: (
                        "error" in writer
                        or not thread.is_alive()
                        or ("pid" in writer and _waits_for_a_lock(admin, writer["pid"]))
                    ),
                    timeout_s=10,
                    what="the writer to wait for the batch's lock or to finish",
                )
            assert thread.is_alive(), f"the write did not wait for the batch: {writer}"
        return real_delete(model, column, ids, using)

    with (
        django_db_blocker.unblock(),
        override_settings(DATABASE_ROUTERS=[_ToTheLiveDatabase(alias)]),
        mock.patch.object(tokens, "delete_where_in", side_effect=delete),
    ):
        summary = delete_expired_tokens(
            now=NOW, margin=timedelta(days=7), batch_size=10, dry_run=False
        )
        thread.join(10)
        left = surviving_rows(alias)
        orphans = orphan_blacklist_rows(alias)

    assert isinstance(writer.get("error"), psycopg.errors.ForeignKeyViolation)
    assert (summary.expired, summary.outstanding_deleted, summary.blacklisted_deleted) == (2, 2, 1)
    assert summary.completed is True
    assert left == ({live.pk}, {live.pk})
    assert orphans == 0


# --- two cleaner processes and a writer just ahead of them ----------------------------------
@dataclass
class AheadWriter:
    """A thread that blacklists tokens among the next rows the cleaners will reach."""

    url: str
    stop: threading.Event = field(default_factory=threading.Event)
    expired_written: set[int] = field(default_factory=set)
    live_written: set[int] = field(default_factory=set)
    refused: int = 0
    attempts: int = 0
    errors: list[str] = field(default_factory=list)

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self.stop.is_set():
                candidates = connection.execute(
                    f"SELECT o.id, o.expires_at < now() FROM (SELECT id, expires_at FROM"
                    f" {OUTSTANDING} WHERE id >= coalesce((SELECT min(id) FROM {OUTSTANDING}"
                    f" WHERE expires_at < now()), 0) ORDER BY id LIMIT {2 * WINDOW}) o"
                    f" LEFT JOIN {BLACKLIST} b ON b.token_id = o.id WHERE b.id IS NULL"
                    " ORDER BY o.id LIMIT 3"
                ).fetchall()
                if not candidates:
                    time.sleep(0.002)
                for token_id, expired in candidates:
                    self.attempts += 1
                    try:
                        connection.execute(INSERT, [token_id])
                    except psycopg.errors.ForeignKeyViolation:
                        self.refused += 1  # the cleaner deleted it first: refused, no orphan
                    except psycopg.Error as error:
                        self.errors.append(f"{type(error).__name__}: {error}")
                    else:
                        (self.expired_written if expired else self.live_written).add(token_id)


def _start_cleaner(
    stack: LiveStack, processes: ProcessRegistry, root: Path, number: int
) -> tuple[subprocess.Popen, Path]:
    log = root / f"cleaner{number}.log"
    env = stack.env | {
        "TOKEN_CLEANUP_BATCH_SIZE": str(BATCH_SIZE),
        "LOG_DIR": str(root / f"logs{number}"),
    }
    argv = [sys.executable, "manage.py", "clean_blacklisted_tokens", "--json"]
    return processes.start(argv, env=env, log=log, cwd=BACKEND_DIR), log


def _summary_in(log: Path) -> dict:
    (line,) = [line for line in log.read_text().splitlines() if line.startswith('{"scanned"')]
    return json.loads(line)


@pytest.mark.parametrize("live_stack", [SERVERS], indirect=True)
def test_two_cleaners_and_a_writer_blacklisting_just_ahead_of_them_end_as_one_clean_run(
    live_stack: LiveStack,
    live_processes: ProcessRegistry,
    tmp_path: Path,
    django_db_blocker,
) -> None:
    alias = live_stack.alias
    with django_db_blocker.unblock():
        table = seed_token_table(alias, count=TOKENS, expired_exp=OLD, kept_exp=FAR_FUTURE)
    writer = AheadWriter(live_stack.database_url)
    thread = threading.Thread(target=writer.run)
    thread.start()
    try:
        started = time.monotonic()
        cleaners = [
            _start_cleaner(live_stack, live_processes, tmp_path, n) for n in range(CLEANERS)
        ]
        codes = [process.wait(90) for process, _log in cleaners]
        elapsed = time.monotonic() - started
    finally:
        writer.stop.set()
        thread.join(10)

    logs = [log.read_text() for _process, log in cleaners]
    assert codes == [0] * CLEANERS, logs
    summaries = [_summary_in(log) for _process, log in cleaners]
    with django_db_blocker.unblock():
        outstanding, blacklisted = surviving_rows(alias)
        orphans = orphan_blacklist_rows(alias)
    print(
        f"\nfigures: {TOKENS} tokens ({len(table.expired_ids)} expired, "
        f"{table.expired_blacklisted} of them blacklisted), {CLEANERS} cleaners in batches of "
        f"{BATCH_SIZE}, {elapsed:.1f} s; writer: {writer.attempts} attempts, "
        f"{len(writer.expired_written)} expired + {len(writer.live_written)} live blacklisted, "
        f"{writer.refused} refused; summaries: {summaries}"
    )
    assert writer.errors == []
    assert len(writer.expired_written) >= 20, "the writer hardly raced the cleaners"
    # No live token lost, no orphan, and every blacklist row of a live token still there.
    assert outstanding == table.kept_ids
    assert blacklisted == (table.blacklisted_ids & table.kept_ids) | writer.live_written
    assert orphans == 0
    # The counts add up to one clean run's, the writer's expired rows included.
    for summary in summaries:
        assert summary["completed"] is True
        assert summary["scanned"] - summary["expired"] == len(table.kept_ids)
    assert sum(s["outstanding_deleted"] for s in summaries) == len(table.expired_ids)
    assert sum(s["blacklisted_deleted"] for s in summaries) == (
        table.expired_blacklisted + len(writer.expired_written)
    )
    # The locks did it: no batch had to be deleted again.
    assert not any("deleting it again" in log for log in logs)
