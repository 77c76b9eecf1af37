"""The SQL of one token batch: read a page of (id, token), lock, count and delete rows by id.

A batch's ids travel as ONE text parameter that the database expands, set-based
(PostgreSQL `= ANY(%s::bigint[])`, SQLite `IN (SELECT value FROM json_each(%s))`): one
statement per table per batch, since 999-literal `IN` lists cost more to send and parse
than the delete itself (docs/token-cleanup.md). `maintenance.tokens` decides what to
delete and owns the transactions.
"""

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from django.db import connections
from django.db.models import BinaryField, Model, QuerySet
from django.db.models.functions import Cast
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

SQLITE_CACHE_KIB = 32_768  # the run's page cache on SQLite (SQLite's default: 2,000 KiB)


@contextmanager
def bulk_delete_cache(using: str) -> Iterator[None]:
    """On SQLite, give the connection a 32 MiB page cache while the block runs, then restore it.

    A batch's deletes on random keys (uuid4 `jti`s) dirty thousands of index pages; in
    the default 2 MB cache they spill to the file mid-transaction, which tripled the run.
    """
    connection = connections[using]
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection  # a PRAGMA on the driver's own connection: no query logged
    before = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with suppress(sqlite3.Error, AttributeError):  # closed meanwhile: nothing to restore
            connection.connection.execute(f"PRAGMA cache_size = {int(before)}")


def read_as_text(rows: QuerySet, limit: int) -> list[tuple[int, str]]:
    """Return the first `limit` rows' (id, token)."""
    return list(rows.values_list("pk", "token")[:limit])


def read_as_bytes(rows: QuerySet, limit: int) -> list[tuple[int, str | None]]:
    """Return the first `limit` rows' (id, token), None for a token that is not UTF-8 text.

    SQLite keeps any bytes in a TEXT column, and its driver refuses a whole batch over one
    such value, quoting the token in the error; read as a BLOB, every row comes back.
    """
    raw_rows = list(
        rows.annotate(raw=Cast("token", BinaryField())).values_list("pk", "raw")[:limit]
    )
    try:
        return [(pk, raw.decode()) for pk, raw in raw_rows]
    except UnicodeDecodeError:  # some row is not UTF-8: decode them one by one
        return [(pk, _utf8(raw)) for pk, raw in raw_rows]


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def lock_outstanding(ids: Sequence[int], using: str) -> None:
    """Lock the batch's outstanding rows (`SELECT ... FOR UPDATE`) where the database can.

    A blacklist row written for one of them meanwhile then waits for this batch's commit
    and fails its own foreign key, instead of failing this batch's (docs/periodic-tasks.md).
    """
    if connections[using].features.has_select_for_update:  # not SQLite: one writer at a time
        sql = (
            "SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {column} {in_ids}"
            " ORDER BY {column} FOR UPDATE) AS locked"
        )
        _execute_with_ids(sql, OutstandingToken, "id", ids, using)


def delete_where_in(model: type[Model], column: str, ids: Sequence[int], using: str) -> int:
    """Run `DELETE FROM <model's table> WHERE <column> IN ids`; return the deleted count."""
    return _execute_with_ids(
        "DELETE FROM {table} WHERE {column} {in_ids}", model, column, ids, using
    )


def count_where_in(model: type[Model], column: str, ids: Sequence[int], using: str) -> int:
    """Return how many rows of the model's table have `column` IN ids."""
    sql = "SELECT COUNT(*) FROM {table} WHERE {column} {in_ids}"
    return _execute_with_ids(sql, model, column, ids, using)


def _execute_with_ids(
    sql: str, model: type[Model], column: str, ids: Sequence[int], using: str
) -> int:
    """Run `sql` with {table}, {column} and {in_ids} filled in and the ids bound as one text;
    return the row count of a DELETE, or the first value a SELECT returns."""
    connection = connections[using]
    listed = ",".join(str(int(pk)) for pk in ids)  # integers read from the primary key
    if connection.vendor == "postgresql":
        in_ids, param = "= ANY(%s::bigint[])", f"{{{listed}}}"
    else:  # SQLite (3.38+ has JSON built in; Django's JSONField needs it too)
        in_ids, param = "IN (SELECT value FROM json_each(%s))", f"[{listed}]"
    quote = connection.ops.quote_name
    statement = sql.format(table=quote(model._meta.db_table), column=quote(column), in_ids=in_ids)
    with connection.cursor() as cursor:
        cursor.execute(statement, [param])
        return cursor.rowcount if statement.startswith("DELETE") else cursor.fetchone()[0]


def chunks(ids: Sequence[int], using: str) -> Iterator[list[int]]:
    """Split `ids` so no statement exceeds the backend's bound-parameter limit (999 on SQLite)."""
    size = connections[using].features.max_query_params or len(ids)
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])
