"""Token batches on PostgreSQL: one array parameter per statement, past any literal-list size."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens
from tests.live.conftest import FAR_FUTURE, OLD
from tests.live.faults_support import orphan_blacklist_rows, seed_token_table, surviving_rows
from tests.live.stack import LiveStack

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

SERVERS = pytest.param("servers", marks=pytest.mark.servers, id="redis+postgres")
NOW = datetime(2030, 1, 1, tzinfo=UTC)
TOKENS = 3000  # every other one expired, every third blacklisted (seed_token_table)


class _ToTheLiveDatabase:
    def __init__(self, alias: str) -> None:
        self.alias = alias

    def db_for_write(self, model: type, **hints: object) -> str:
        return self.alias


def run(alias: str, *, dry_run: bool) -> tuple[TokenCleanupSummary, list[str]]:
    with (
        override_settings(DATABASE_ROUTERS=[_ToTheLiveDatabase(alias)]),
        CaptureQueriesContext(connections[alias]) as captured,
    ):
        summary = delete_expired_tokens(
            now=NOW, margin=timedelta(days=7), batch_size=2000, dry_run=dry_run
        )
    return summary, [query["sql"] for query in captured.captured_queries]


def counts(summary: TokenCleanupSummary) -> tuple[int, int, int, int, int, bool]:
    return (
        summary.scanned,
        summary.expired,
        summary.blacklisted_deleted,
        summary.outstanding_deleted,
        summary.undecodable,
        summary.completed,
    )


@pytest.mark.parametrize("live_stack", [SERVERS], indirect=True)
def test_batches_of_1000_expired_rows_lock_and_delete_by_one_array_and_a_dry_run_agrees(
    live_stack: LiveStack, django_db_blocker
) -> None:
    alias = live_stack.alias
    with django_db_blocker.unblock():
        table = seed_token_table(alias, count=TOKENS, expired_exp=OLD, kept_exp=FAR_FUTURE)
        before = surviving_rows(alias)
        dry, dry_sql = run(alias, dry_run=True)
        after_dry = surviving_rows(alias)
        real, real_sql = run(alias, dry_run=False)
        left = surviving_rows(alias)
        orphans = orphan_blacklist_rows(alias)

    expired_blacklisted = len(table.blacklisted_ids & table.expired_ids)
    assert counts(real) == (TOKENS, 1500, expired_blacklisted, 1500, 0, True)
    assert counts(dry) == counts(real)
    assert after_dry == before
    assert not [sql for sql in dry_sql if "DELETE" in sql or "FOR UPDATE" in sql]
    assert left == (set(table.kept_ids), table.blacklisted_ids & table.kept_ids)
    assert orphans == 0
    # Per batch of 2,000 rows (1,000 expired): one lock, one DELETE per table, each with
    # the ids as one array; nothing else but the two page reads and the empty last one.
    batch = [sql for sql in real_sql if "= ANY(" in sql]
    assert [sql.split()[0] for sql in batch] == ["SELECT", "DELETE", "DELETE"] * 2
    assert all(sql.count("::bigint[]") == 1 and "FOR UPDATE" in sql for sql in batch[::3])
    assert len([sql for sql in real_sql if " LIMIT 2000" in sql]) == 3
