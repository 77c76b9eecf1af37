"""Token batches on SQLite: set-based deletes past the parameter limit, and the run's page cache."""

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance import token_sql, tokens
from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens
from tests.clock import LONG_AGO, NEXT_MONTH, TOKENS_NOW
from tests.factories import signed_refresh_token

NOW = TOKENS_NOW
EXPIRED, KEPT = 2500, 500  # more expired rows in one batch than SQLite's 999 parameters

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_tokens() -> tuple[set[int], set[int]]:
    """EXPIRED expired and KEPT live tokens of 30 users, interleaved; every other one
    blacklisted (two in four). Returns (expired ids, kept ids)."""
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"many{n}", password="!") for n in range(30)
    )
    rows = []
    for number in range(EXPIRED + KEPT):
        exp = NEXT_MONTH if number % 6 == 5 else LONG_AGO
        user = users[number % 30]
        jti = f"{number:032x}"
        token = signed_refresh_token(user_id=user.pk, jti=jti, exp=exp)
        rows.append(OutstandingToken(user=user, jti=jti, token=token, expires_at=exp))
    created = OutstandingToken.objects.bulk_create(rows)
    BlacklistedToken.objects.bulk_create(
        BlacklistedToken(token=row) for number, row in enumerate(created) if number % 4 < 2
    )
    expired = {row.pk for row in created if row.expires_at == LONG_AGO}
    return expired, {row.pk for row in created} - expired


def run(**overrides: object) -> TokenCleanupSummary:
    arguments = {"now": NOW, "margin": timedelta(days=7), "batch_size": 5000, "dry_run": False}
    return delete_expired_tokens(**(arguments | overrides))


def tables() -> tuple[set[int], set[int]]:
    return (
        set(OutstandingToken.objects.values_list("pk", flat=True)),
        set(BlacklistedToken.objects.values_list("token_id", flat=True)),
    )


def counts(summary: TokenCleanupSummary) -> tuple[int, int, int, int, int]:
    return (
        summary.scanned,
        summary.expired,
        summary.blacklisted_deleted,
        summary.outstanding_deleted,
        summary.undecodable,
    )


def cache_size() -> int:
    return connection.connection.execute("PRAGMA cache_size").fetchone()[0]


def test_a_batch_of_2500_expired_rows_goes_in_one_delete_per_table_and_a_dry_run_agrees(
    many_tokens: tuple[set[int], set[int]],
) -> None:
    expired, kept = many_tokens
    before = tables()
    dry = run(dry_run=True)
    assert tables() == before

    with CaptureQueriesContext(connection) as captured:
        real = run()

    deletes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("DELETE")]
    assert [sql.split('"')[1] for sql in deletes] == [
        BlacklistedToken._meta.db_table,
        OutstandingToken._meta.db_table,
    ]
    assert counts(real) == (EXPIRED + KEPT, EXPIRED, EXPIRED // 2, EXPIRED, 0)
    assert counts(dry) == counts(real)
    assert tables() == (kept, {pk for pk in kept if pk in before[1]})
    assert before[0] - tables()[0] == expired
    assert len(tables()[1]) == KEPT // 2


def test_the_run_has_a_32_mib_page_cache_and_gives_the_old_one_back(
    many_tokens: tuple[set[int], set[int]],
) -> None:
    connection.ensure_connection()
    original = cache_size()
    during: list[int] = []
    with CaptureQueriesContext(connection) as captured:
        summary = run(batch_size=1000, progress=lambda _: during.append(cache_size()))

    assert during == [-32768] * 3  # after each of the three batches
    assert cache_size() == original == -2000
    assert not [q for q in captured.captured_queries if "PRAGMA" in q["sql"]]
    assert summary.outstanding_deleted == EXPIRED


def test_the_old_page_cache_is_back_after_a_database_error(
    many_tokens: tuple[set[int], set[int]],
) -> None:
    connection.ensure_connection()
    before = tables()
    with (
        mock.patch.object(tokens, "delete_where_in", side_effect=OperationalError("injected")),
        pytest.raises(OperationalError, match="injected"),
    ):
        run()
    assert cache_size() == -2000
    assert tables() == before


def test_a_connection_gone_during_the_run_needs_no_cache_restored() -> None:
    connection.ensure_connection()
    raw = connection.connection
    try:
        with token_sql.bulk_delete_cache("default"):
            assert cache_size() == -32768
            connection.connection = None  # as Django leaves it after close()
        assert connection.connection is None  # nothing reopened it, nothing raised
    finally:
        connection.connection = raw
    assert cache_size() == -32768  # the lost connection was not touched
    raw.execute("PRAGMA cache_size = -2000")
