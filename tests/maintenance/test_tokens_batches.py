"""delete_expired_tokens over a mixed table: any batch size, the same end state, bounded reads."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests.maintenance.token_support import (
    TWENTY_SUMMARY,
    numbers,
    run,
    summary_of,
    survivors_of_twenty,
    tables,
)

pytestmark = pytest.mark.django_db


def statements(queries: list[dict]) -> list[str]:
    """Each captured query as a short label: what it does, to which table."""
    outstanding = f'"{OutstandingToken._meta.db_table}"'
    blacklist = f'"{BlacklistedToken._meta.db_table}"'
    labels = []
    for query in queries:
        sql = query["sql"]
        if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            labels.append(sql.rsplit(" ", 1)[0])
        elif sql.startswith(f"DELETE FROM {blacklist}"):
            labels.append("DELETE blacklist")
        elif sql.startswith(f"DELETE FROM {outstanding}"):
            labels.append("DELETE outstanding")
        elif sql.startswith("SELECT") and f"FROM {outstanding}" in sql:
            labels.append("SELECT page" if " LIMIT " in sql else "SELECT look-up")
        else:
            labels.append(sql)
    return labels


def in_list_sizes(sql: str) -> list[int]:
    return [len(found.split(",")) for found in re.findall(r" IN \(([^)]*)\)", sql)]


OUTSTANDING = '"token_blacklist_outstandingtoken"'
PAGE = re.compile(  # the token as SQLite's bytes (tests/maintenance/test_tokens_corrupt.py)
    rf'SELECT {OUTSTANDING}\."id" AS "pk", CAST\({OUTSTANDING}\."token" AS BLOB\) AS "raw" '
    rf'FROM {OUTSTANDING} WHERE {OUTSTANDING}\."id" > \d+ ORDER BY \S+ ASC LIMIT \d+'
)
ONE_BATCH_DELETE = ["SAVEPOINT", "DELETE blacklist", "DELETE outstanding", "RELEASE SAVEPOINT"]


@pytest.mark.parametrize(
    ("batch_size", "pages", "look_ups", "deleting_batches"),
    [(1, 21, 4, 12), (2, 11, 4, 10), (7, 4, 3, 3), (20, 2, 1, 1), (1000, 2, 1, 1)],
)
def test_any_batch_size_reaches_the_same_end_state_reading_at_most_a_batch_per_query(
    twenty_tokens: list[OutstandingToken],
    batch_size: int,
    pages: int,
    look_ups: int,
    deleting_batches: int,
) -> None:
    with CaptureQueriesContext(connection) as captured:
        summary = run(batch_size=batch_size)

    assert tables() == survivors_of_twenty()
    assert numbers(summary) == TWENTY_SUMMARY
    # Queries grow with the number of batches only: one page read per batch (plus the
    # empty one that ends the run), one look-up per batch holding unreadable tokens, and
    # per batch with expired rows one transaction: blacklist rows first, then outstanding.
    labels = statements(captured.captured_queries)
    assert labels.count("SELECT page") == pages
    assert labels.count("SELECT look-up") == look_ups
    assert labels.count("DELETE outstanding") == deleting_batches
    assert len(labels) == pages + look_ups + len(ONE_BATCH_DELETE) * deleting_batches
    for at, label in enumerate(labels):
        if label == "SAVEPOINT":
            assert labels[at : at + 4] == ONE_BATCH_DELETE
    # Memory is bounded by the batch: every page is LIMIT batch_size by primary key with
    # only the id and token columns, and no statement carries more than batch_size ids.
    for query in captured.captured_queries:
        sql = query["sql"]
        if statements([query]) == ["SELECT page"]:
            assert PAGE.fullmatch(sql), sql
            assert sql.endswith(f" LIMIT {batch_size}")
        assert all(size <= batch_size for size in in_list_sizes(sql))


def test_ids_beyond_the_backends_parameter_limit_are_deleted_as_one_parameter(
    twenty_tokens: list[OutstandingToken], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection.features, "max_query_params", 3)
    with CaptureQueriesContext(connection) as captured:
        summary = run(batch_size=7)

    assert tables() == survivors_of_twenty()
    assert numbers(summary) == TWENTY_SUMMARY
    deletes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 6  # one per table per deleting batch, 4 or 5 ids bound as one text
    assert all(sql.count("json_each('[") == 1 for sql in deletes)


def test_unreadable_rows_beyond_the_parameter_limit_are_all_judged_by_expires_at(
    twenty_tokens: list[OutstandingToken], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One batch holds all four unreadable rows; each expires_at look-up takes one id.
    monkeypatch.setattr(connection.features, "max_query_params", 1)
    with CaptureQueriesContext(connection) as captured:
        summary = run(batch_size=20)

    assert tables() == survivors_of_twenty()
    assert numbers(summary) == TWENTY_SUMMARY
    lookups = [q["sql"] for q in captured.captured_queries if '"expires_at" <' in q["sql"]]
    assert [in_list_sizes(sql) for sql in lookups] == [[1]] * 4


def test_dry_run_reports_what_a_real_run_deletes_and_deletes_nothing(
    twenty_tokens: list[OutstandingToken],
) -> None:
    before = tables()
    with CaptureQueriesContext(connection) as captured:
        dry = run(dry_run=True, batch_size=7)
    assert tables() == before
    assert not [q for q in captured.captured_queries if "DELETE" in q["sql"].upper()]

    real = run(batch_size=7)

    assert numbers(dry) == TWENTY_SUMMARY | {"dry_run": True}
    assert numbers(real) == TWENTY_SUMMARY
    assert tables() == survivors_of_twenty()


def test_a_second_run_over_a_clean_table_deletes_nothing(
    twenty_tokens: list[OutstandingToken],
) -> None:
    run()
    again = run()
    assert tables() == survivors_of_twenty()
    assert numbers(again) == summary_of(scanned=8, expired=2, blacklisted=0, undecodable=2) | {
        "expired": 0,
        "outstanding_deleted": 0,
    }
