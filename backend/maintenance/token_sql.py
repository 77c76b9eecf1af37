"""The SQL of one token batch: read a page of (id, token), lock and delete rows by id list.

Plain statements with the ids written in as integer literals (`_execute_where_in` says
why); `maintenance.tokens` decides what to delete and owns the transactions.
"""

from collections.abc import Iterator, Sequence

from django.db import connections
from django.db.models import BinaryField, Model, QuerySet
from django.db.models.functions import Cast
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken


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
        sql = "SELECT {column} FROM {table} WHERE {column} IN ({ids}) ORDER BY 1 FOR UPDATE"
        _execute_where_in(sql, OutstandingToken, "id", ids, using)


def delete_where_in(model: type[Model], column: str, ids: Sequence[int], using: str) -> int:
    """Run `DELETE FROM <model's table> WHERE <column> IN ids`; return the deleted count."""
    return _execute_where_in(
        "DELETE FROM {table} WHERE {column} IN ({ids})", model, column, ids, using
    )


def _execute_where_in(
    sql: str, model: type[Model], column: str, ids: Sequence[int], using: str
) -> int:
    """Run `sql` with its {table}, {column} and {ids} filled in, per chunk; return the row count.

    The ids are written into the SQL as integer literals, not bound as a thousand
    parameters: they are integers read from the primary key (and `int()` makes sure),
    and psycopg would otherwise re-parse a thousand placeholders in Python for every
    statement, which costs more than the statement itself.
    """
    connection = connections[using]
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(column)
    count = 0
    with connection.cursor() as cursor:
        for chunk in chunks(ids, using):
            literals = ", ".join(str(int(pk)) for pk in chunk)
            cursor.execute(sql.format(table=table, column=column, ids=literals))
            count += cursor.rowcount
    return count


def chunks(ids: Sequence[int], using: str) -> Iterator[list[int]]:
    """Split `ids` so no statement exceeds the backend's bound-parameter limit (999 on SQLite)."""
    size = connections[using].features.max_query_params or len(ids)
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])
