"""Token batches on PostgreSQL: locked in id order, one array parameter per statement.

In-process against a real server (the `postgres_alias` fixture), so the mutation run
judges the PostgreSQL branches of maintenance/token_sql.py too.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens
from tests.factories import OutstandingTokenFactory
from tests.live.faults_support import orphan_blacklist_rows, seed_token_table, surviving_rows
from tests.maintenance.token_support import (
    OUTSTANDING_DELETE,
    before_each,
    numbers,
    summary_of,
)

pytestmark = pytest.mark.timeout(120)

NOW = datetime(2030, 1, 1, tzinfo=UTC)
OLD = datetime(2020, 1, 1, tzinfo=UTC)  # expired long before NOW - 7 days
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
TOKENS = 3000  # every other one expired, every third blacklisted (seed_token_table)


@pytest.fixture
def alias(postgres_alias: str, django_db_blocker) -> str:
    """The session's PostgreSQL alias, its token tables and users emptied for this test."""
    with django_db_blocker.unblock():
        BlacklistedToken.objects.using(postgres_alias).all().delete()
        OutstandingToken.objects.using(postgres_alias).all().delete()
        get_user_model().objects.using(postgres_alias).all().delete()
    return postgres_alias


class _ToTheLiveDatabase:
    """simplejwt's token tables on PostgreSQL; every other model stays where it was."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def db_for_write(self, model: type, **hints: object) -> str | None:
        return self.alias if model._meta.app_label == "token_blacklist" else None


def run(
    alias: str, *, dry_run: bool, batch_size: int = 2000
) -> tuple[TokenCleanupSummary, list[str]]:
    with (
        override_settings(DATABASE_ROUTERS=[_ToTheLiveDatabase(alias)]),
        CaptureQueriesContext(connections[alias]) as captured,
    ):
        summary = delete_expired_tokens(
            now=NOW, margin=timedelta(days=7), batch_size=batch_size, dry_run=dry_run
        )
    return summary, [query["sql"] for query in captured.captured_queries]


def test_batches_of_1000_expired_rows_lock_and_delete_by_one_array_and_a_dry_run_agrees(
    alias: str, django_db_blocker
) -> None:
    with django_db_blocker.unblock():
        table = seed_token_table(alias, count=TOKENS, expired_exp=OLD, kept_exp=FAR_FUTURE)
        before = surviving_rows(alias)
        dry, dry_sql = run(alias, dry_run=True)
        after_dry = surviving_rows(alias)
        real, real_sql = run(alias, dry_run=False)
        left = surviving_rows(alias)
        orphans = orphan_blacklist_rows(alias)

    expired_blacklisted = len(table.blacklisted_ids & table.expired_ids)
    assert numbers(real) == summary_of(
        scanned=TOKENS, expired=1500, blacklisted=expired_blacklisted
    )
    assert numbers(dry) == numbers(real) | {"dry_run": True}
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


def test_a_batch_that_fails_rolls_back_whole_and_the_committed_ones_stay(
    alias: str, django_db_blocker
) -> None:
    with django_db_blocker.unblock():
        user = get_user_model().objects.using(alias).create(username="pg-user")
        make = OutstandingTokenFactory.using(alias)
        rows = [make(user=user, exp=OLD, blacklisted=True) for _ in range(4)]  # 2 batches

        def second_batch_fails(n: int, ids: list[int]) -> None:
            if n == 2:  # after this batch's blacklist DELETE ran
                raise OperationalError("the server went away (injected)")

        with (
            before_each(OUTSTANDING_DELETE, second_batch_fails, using=alias),
            pytest.raises(OperationalError, match="injected"),
        ):
            run(alias, dry_run=False, batch_size=2)
        left = surviving_rows(alias)

    second = {row.pk for row in rows[2:]}
    assert left == (second, second)  # its blacklist rows are back; the first batch is gone


def test_unreadable_tokens_are_judged_by_expires_at(alias: str, django_db_blocker) -> None:
    with django_db_blocker.unblock():
        user = get_user_model().objects.using(alias).create(username="pg-user")
        make = OutstandingToken.objects.using(alias).create
        gone = make(user=user, jti="unreadable-old", token="not-a-jwt", expires_at=OLD)
        kept = make(user=user, jti="unreadable-live", token="a.b.c", expires_at=FAR_FUTURE)
        # Read as text, as stored: a cast to bytea would parse the backslash as an escape.
        odd = make(user=user, jti="backslash", token="a\\x.b.c", expires_at=OLD)
        BlacklistedToken.objects.using(alias).create(token=gone)
        summary, _ = run(alias, dry_run=False)
        left = surviving_rows(alias)

    assert numbers(summary) == summary_of(scanned=3, expired=2, blacklisted=1, undecodable=3)
    assert odd.pk not in left[0]
    assert left == ({kept.pk}, set())
