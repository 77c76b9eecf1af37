"""Token rows whose text cannot be read (bytes that are not UTF-8, kept by SQLite's TEXT column).

Such a row is judged by `expires_at` and counted in `undecodable`; its neighbours in the
same batch are cleaned as usual, and no fragment of any token's text reaches a log line,
the summary, the run history or the command's output.
"""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from freezegun import freeze_time
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance import token_sql
from maintenance.models import MaintenanceRun
from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens
from tests.clock import LONG_AGO, NEXT_MONTH, TOKENS_NOW
from tests.factories import OutstandingTokenFactory
from tests.maintenance.token_support import log_lines

NOW = TOKENS_NOW

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite keeps any bytes as TEXT"),
]


def _bad_payload_byte(token: bytes) -> bytes:
    dot = token.index(b".")
    return token[: dot + 20] + b"\xff" + token[dot + 21 :]


# How a token's bytes can stop being UTF-8 (each a whole real simplejwt token otherwise).
CORRUPTIONS = {
    "0xff-in-the-payload": _bad_payload_byte,
    "0xff-after-the-signature": lambda token: token + b"\xff",
    "truncated-sequence": lambda token: token[:-1] + b"\xe2\x82",
    "encoded-surrogate": lambda token: b"\xed\xa0\x80" + token,
    "latin-1-text": lambda token: token.replace(b".", "\u00e9".encode("latin-1"), 1),
}


def store_bytes(row: OutstandingToken, raw: bytes) -> None:
    """Write `raw` into the row's TEXT column as SQLite keeps it: unchecked bytes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE token_blacklist_outstandingtoken SET token = CAST(%s AS TEXT) WHERE id = %s",
            [raw, row.pk],
        )


def tables() -> tuple[set[int], set[int]]:
    return (
        set(OutstandingToken.objects.values_list("pk", flat=True)),
        set(BlacklistedToken.objects.values_list("token_id", flat=True)),
    )


def run(**overrides: object) -> TokenCleanupSummary:
    arguments = {"now": NOW, "margin": timedelta(days=7), "batch_size": 1000, "dry_run": False}
    return delete_expired_tokens(**(arguments | overrides))


def fragments(token: str) -> list[str]:
    """Every 8-character piece of the token's text, segment by segment."""
    return [
        segment[start : start + 8]
        for segment in token.split(".")
        for start in range(0, max(len(segment) - 7, 1), 4)
    ]


@pytest.fixture
def corrupt_batch() -> dict[str, OutstandingToken]:
    """One batch: expired blacklisted neighbours around two corrupt rows, and a live token."""
    return {
        "expired-before": OutstandingTokenFactory(exp=LONG_AGO, blacklisted=True),
        "corrupt-expired": OutstandingTokenFactory(exp=LONG_AGO, blacklisted=True),
        "expired-between": OutstandingTokenFactory(exp=LONG_AGO),
        "corrupt-live": OutstandingTokenFactory(exp=NEXT_MONTH, blacklisted=True),
        "live": OutstandingTokenFactory(exp=NEXT_MONTH, blacklisted=True),
        "expired-after": OutstandingTokenFactory(exp=LONG_AGO, blacklisted=True),
    }


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
@pytest.mark.parametrize("batch_size", [1000, 2], ids=["one-batch", "batches-of-2"])
def test_a_row_that_is_not_utf8_is_judged_by_expires_at_and_its_neighbours_are_cleaned(
    corrupt_batch: dict[str, OutstandingToken], corrupt, batch_size: int
) -> None:
    rows = corrupt_batch
    for name in ("corrupt-expired", "corrupt-live"):
        store_bytes(rows[name], corrupt(rows[name].token.encode()))

    summary = run(batch_size=batch_size)

    kept = {rows["corrupt-live"].pk, rows["live"].pk}
    assert tables() == (kept, kept)
    assert summary.as_dict() | {"duration_s": 0} == {
        "scanned": 6,
        "expired": 4,
        "blacklisted_deleted": 3,
        "outstanding_deleted": 4,
        "undecodable": 2,
        "dry_run": False,
        "completed": True,
        "duration_s": 0,
    }


def test_a_dry_run_over_a_corrupt_row_reports_the_same_and_deletes_nothing(
    corrupt_batch: dict[str, OutstandingToken],
) -> None:
    store_bytes(corrupt_batch["corrupt-expired"], b"\xff\xfe not text at all")
    before = tables()

    summary = run(dry_run=True)

    assert tables() == before
    assert (summary.expired, summary.blacklisted_deleted, summary.undecodable) == (4, 3, 1)


@pytest.mark.usefixtures("unredacted")
def test_no_fragment_of_a_corrupt_token_reaches_a_log_the_summary_the_history_or_the_output(
    corrupt_batch: dict[str, OutstandingToken], caplog: pytest.LogCaptureFixture
) -> None:
    corrupt = corrupt_batch["corrupt-expired"]
    store_bytes(corrupt, _bad_payload_byte(corrupt.token.encode()))
    out, err = io.StringIO(), io.StringIO()

    with freeze_time(NOW):
        call_command("clean_blacklisted_tokens", "--json", stdout=out, stderr=err)

    summary = json.loads(out.getvalue())
    assert (summary["undecodable"], summary["outstanding_deleted"]) == (1, 4)
    (history,) = MaintenanceRun.objects.all()
    assert (history.outcome, history.summary, history.error) == ("ok", summary, "")
    written = "\n".join([*log_lines(caplog), out.getvalue(), err.getvalue(), str(history.summary)])
    assert f"outstanding token id={corrupt.pk} has no readable exp" in written
    for row in corrupt_batch.values():
        for fragment in fragments(row.token):
            assert fragment not in written


def test_the_text_and_the_bytes_readers_agree_on_readable_rows() -> None:
    # PostgreSQL (a UTF-8 database refuses other bytes) reads text; SQLite reads bytes.
    rows = [OutstandingTokenFactory(exp=LONG_AGO) for _ in range(3)]
    unread = OutstandingToken.objects.order_by("pk").filter(pk__gt=rows[0].pk)

    as_text = token_sql.read_as_text(unread, 5)
    as_bytes = token_sql.read_as_bytes(unread, 5)

    assert as_text == as_bytes == [(row.pk, row.token) for row in rows[1:]]
    assert token_sql.read_as_bytes(unread, 1) == [(rows[1].pk, rows[1].token)]
