"""Token cleanup under faults: a database error mid-run, and a stop between batches.

These run with real transactions (`transaction=True`), so "committed" means committed.
"""

import contextlib
import itertools
from collections.abc import Iterator

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.management import execute_from_command_line
from django.db import IntegrityError, OperationalError
from freezegun import freeze_time
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens
from tests.clock import LONG_AGO, NEXT_MONTH, WEEK
from tests.clock import TOKENS_NOW as NOW
from tests.factories import OutstandingTokenFactory
from tests.logs import logged, warnings
from tests.maintenance.token_support import OUTSTANDING_DELETE, before_each

DB_ERROR = OperationalError("database is locked (injected)")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def five_expired_batches() -> list[OutstandingToken]:
    """Ten expired blacklisted tokens (five batches of two), then one future one."""
    rows = [OutstandingTokenFactory(exp=LONG_AGO, blacklisted=True) for _ in range(10)]
    rows.append(OutstandingTokenFactory(exp=NEXT_MONTH, blacklisted=True))
    return rows


def tables() -> tuple[set[int], set[int]]:
    return (
        set(OutstandingToken.objects.values_list("pk", flat=True)),
        set(BlacklistedToken.objects.values_list("token_id", flat=True)),
    )


def pks(rows: list[OutstandingToken]) -> set[int]:
    return {row.pk for row in rows}


@contextlib.contextmanager
def outstanding_delete_fails_in_batch(k: int, error: BaseException = DB_ERROR) -> Iterator[None]:
    """Batch k's OutstandingToken DELETE raises `error`, after its blacklist DELETE has run."""

    def fail(n: int, ids: list[int]) -> None:
        if n == k:
            raise error

    with before_each(OUTSTANDING_DELETE, fail):
        yield


def run(**overrides: object) -> TokenCleanupSummary:
    arguments = {"now": NOW, "margin": WEEK, "batch_size": 2, "dry_run": False}
    return delete_expired_tokens(**(arguments | overrides))


def numbers(summary: TokenCleanupSummary) -> dict:
    result = summary.as_dict()
    del result["duration_s"]
    return result


def test_database_error_in_batch_3_keeps_batches_1_and_2_and_rolls_back_batch_3_wholly(
    five_expired_batches: list[OutstandingToken],
) -> None:
    rows = five_expired_batches
    with pytest.raises(OperationalError, match="injected"), outstanding_delete_fails_in_batch(3):
        run()
    # Batches 1 and 2 are committed. Batch 3's blacklist DELETE was rolled back with its
    # failed outstanding DELETE: every remaining row keeps its blacklist row, no orphan.
    assert tables() == (pks(rows[4:]), pks(rows[4:]))

    retry = run()

    assert tables() == (pks(rows[10:]), pks(rows[10:]))
    assert numbers(retry) == {
        "scanned": 7,
        "expired": 6,
        "blacklisted_deleted": 6,
        "outstanding_deleted": 6,
        "undecodable": 0,
        "dry_run": False,
        "completed": True,
    }


def test_command_exits_non_zero_with_one_clear_line_on_a_database_error(
    five_expired_batches: list[OutstandingToken], capsys: pytest.CaptureFixture[str], settings
) -> None:
    rows = five_expired_batches
    settings.LOGGING_CONFIG = None  # django.setup() leaves the session's log sinks in place
    with (
        freeze_time(NOW),
        outstanding_delete_fails_in_batch(1),
        pytest.raises(SystemExit) as exit_info,
    ):
        execute_from_command_line(["manage.py", "clean_blacklisted_tokens"])

    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "CommandError: clean_blacklisted_tokens failed: database error:"
        " database is locked (injected)"
    ]
    assert tables() == (pks(rows), pks(rows))


def test_stop_between_batches_keeps_committed_batches_and_the_next_run_finishes(
    five_expired_batches: list[OutstandingToken],
) -> None:
    rows = five_expired_batches
    polls = itertools.count()

    partial = run(should_stop=lambda: next(polls) == 2)  # stop before the third batch

    assert numbers(partial) == {
        "scanned": 4,
        "expired": 4,
        "blacklisted_deleted": 4,
        "outstanding_deleted": 4,
        "undecodable": 0,
        "dry_run": False,
        "completed": False,
    }
    assert tables() == (pks(rows[4:]), pks(rows[4:]))

    rest = run()

    assert rest.completed is True
    assert partial.outstanding_deleted + rest.outstanding_deleted == 10
    assert partial.blacklisted_deleted + rest.blacklisted_deleted == 10
    assert tables() == (pks(rows[10:]), pks(rows[10:]))


def test_a_stop_is_one_info_line_naming_the_last_id_done(
    five_expired_batches: list[OutstandingToken], caplog: pytest.LogCaptureFixture
) -> None:
    """The caller asked for the stop and reports it; this line only says where it stopped."""
    polls = itertools.count()
    run(should_stop=lambda: next(polls) == 2)  # after two batches of two
    assert [line for line in logged(caplog) if "summary" not in line] == [
        f"INFO clean_blacklisted_tokens stopped early after id {five_expired_batches[3].pk}"
    ]


def test_stop_before_the_first_batch_deletes_nothing(
    five_expired_batches: list[OutstandingToken],
) -> None:
    before = tables()
    summary = run(should_stop=lambda: True)
    assert numbers(summary)["scanned"] == 0
    assert summary.completed is False
    assert tables() == before


def test_soft_time_limit_in_batch_3_keeps_1_and_2_rolls_back_3_and_reports_partial(
    five_expired_batches: list[OutstandingToken],
) -> None:
    rows = five_expired_batches
    # Celery raises SoftTimeLimitExceeded asynchronously, wherever the task happens to be:
    # here, between batch 3's blacklist DELETE and its outstanding DELETE.
    with outstanding_delete_fails_in_batch(3, SoftTimeLimitExceeded()):
        partial = run(interrupted_by=(SoftTimeLimitExceeded,))

    assert tables() == (pks(rows[4:]), pks(rows[4:]))  # batch 3 rolled back whole
    assert numbers(partial) == {
        "scanned": 6,
        "expired": 6,
        "blacklisted_deleted": 4,
        "outstanding_deleted": 4,
        "undecodable": 0,
        "dry_run": False,
        "completed": False,
    }

    rest = run()

    assert tables() == (pks(rows[10:]), pks(rows[10:]))
    assert (rest.outstanding_deleted, rest.blacklisted_deleted, rest.completed) == (6, 6, True)


def test_an_interruption_is_one_warning_naming_it_and_the_last_id_kept(
    five_expired_batches: list[OutstandingToken], caplog: pytest.LogCaptureFixture
) -> None:
    with outstanding_delete_fails_in_batch(3, SoftTimeLimitExceeded()):
        run(interrupted_by=(SoftTimeLimitExceeded,))
    assert warnings(logged(caplog)) == [
        "WARNING clean_blacklisted_tokens interrupted (SoftTimeLimitExceeded) after id "
        f"{five_expired_batches[3].pk}; the batch after it rolled back, the next run "
        "finishes the job"
    ]


def test_an_exception_not_named_as_an_interruption_still_propagates(
    five_expired_batches: list[OutstandingToken],
) -> None:
    rows = five_expired_batches
    with (
        pytest.raises(SoftTimeLimitExceeded),
        outstanding_delete_fails_in_batch(2, SoftTimeLimitExceeded()),
    ):
        run()  # interrupted_by defaults to nothing
    assert tables() == (pks(rows[2:]), pks(rows[2:]))


# --- a blacklist row written into a batch while it is deleted -------------------------------


@contextlib.contextmanager
def blacklist_row_written_between_the_deletes(k: int, times: int) -> Iterator[list[int]]:
    """In batch k, the first `times` attempts get a blacklist row for one of their tokens
    between the blacklist DELETE and the outstanding DELETE, as a concurrent writer on a
    database without row locks would; the foreign key then fails at COMMIT, for real."""
    written: list[int] = []

    def write(n: int, ids: list[int]) -> None:
        if n in range(k, k + times):
            BlacklistedToken.objects.create(token_id=ids[0])
            written.append(ids[0])

    with before_each(OUTSTANDING_DELETE, write):
        yield written


def test_a_batch_whose_foreign_key_fails_at_commit_is_deleted_again_and_counted_exactly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rows = [OutstandingTokenFactory(exp=LONG_AGO) for _ in range(6)]  # none blacklisted
    kept = OutstandingTokenFactory(exp=NEXT_MONTH, blacklisted=True)
    with blacklist_row_written_between_the_deletes(2, times=2) as written:
        summary = run()

    assert written == [rows[2].pk, rows[2].pk]  # batch 2's first two attempts failed
    assert tables() == ({kept.pk}, {kept.pk})
    assert numbers(summary) == {
        "scanned": 7,
        "expired": 6,
        "blacklisted_deleted": 0,  # the rows written by the failed attempts rolled back
        "outstanding_deleted": 6,
        "undecodable": 0,
        "dry_run": False,
        "completed": True,
    }
    assert warnings(logged(caplog)) == [
        "WARNING clean_blacklisted_tokens: a blacklist row was written into the batch up to id "
        f"{rows[3].pk} while it was deleted; deleting it again (attempt {attempt} of 3)"
        for attempt in (2, 3)
    ]


def test_a_batch_that_fails_its_foreign_key_every_time_fails_the_run_after_3_attempts() -> None:
    rows = [OutstandingTokenFactory(exp=LONG_AGO) for _ in range(6)]
    with (
        pytest.raises(IntegrityError, match="FOREIGN KEY"),
        blacklist_row_written_between_the_deletes(2, times=3) as written,
    ):
        run()
    assert written == [rows[2].pk] * 3
    assert tables() == (pks(rows[2:]), set())  # batch 1 committed, batch 2 rolled back
