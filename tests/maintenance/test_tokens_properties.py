"""Property: `delete_expired_tokens` agrees with an independent oracle on random token tables.

The tables come from token_shapes.py. The oracle is pyjwt's own `jwt.decode` without
signature verification, falling back to `expires_at` when it yields no finite numeric
`exp`; it shares no code with `maintenance.tokens`.

Left out on purpose: a malformed header or signature segment. `read_exp` reads only the
payload, by design (test_tokens_read_exp.py, "whatever the signature"), while pyjwt rejects
the whole token; there the two disagree, and that choice is the token module's. Also left
out: nesting depths near the recursion limit (token_shapes.py, the "deep" shape).
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import jwt
import pytest
from django.db import transaction
from hypothesis import event, example, given
from hypothesis import strategies as st
from loguru import logger
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens
from tests.clock import TOKENS_NOW, WEEK
from tests.maintenance.token_shapes import CUTOFF, CUTOFF_TS, Spec, batch_size, insert, row

# Run without coverage's tracer (pytest-cov's marker): under it these examples take twice
# as long, and the example tests alone must reach the 100% that `make test` enforces.
pytestmark = pytest.mark.no_cover

COUNTS = ("scanned", "expired", "blacklisted_deleted", "outstanding_deleted", "undecodable")


# --- The oracle -----------------------------------------------------------------------


def oracle_exp(token: str) -> int | float | None:
    """The `exp` pyjwt reads without verifying, when it is a finite number; else None."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    if type(exp) is int or (type(exp) is float and math.isfinite(exp)):
        return exp
    return None


@dataclass(frozen=True)
class Table:
    outstanding: frozenset[tuple]  # (id, jti, token, expires_at)
    blacklisted: frozenset[tuple]  # (id, token_id)


def read_table() -> Table:
    return Table(
        frozenset(OutstandingToken.objects.values_list("pk", "jti", "token", "expires_at")),
        frozenset(BlacklistedToken.objects.values_list("pk", "token_id")),
    )


def row_ids(table: Table) -> tuple[list[int], list[tuple[int, int]]]:
    """The ids of both tables: small enough for pytest to diff quickly while shrinking."""
    return sorted(row[0] for row in table.outstanding), sorted(table.blacklisted)


def same_rows(left: Table, right: Table) -> bool:
    """Equal tables, as a bare bool: diffing tokens of 50 KB would stall the shrinker."""
    return left == right


def predict(table: Table) -> tuple[Table, dict[str, int]]:
    """Which rows must survive, and the counts a run must report."""
    blacklisted_ids = {token_id for _, token_id in table.blacklisted}
    expired_ids, undecodable = set(), 0
    for pk, _jti, token, expires_at in table.outstanding:
        exp = oracle_exp(token)
        if exp is None:
            undecodable += 1
            if expires_at < CUTOFF:
                expired_ids.add(pk)
        elif exp < CUTOFF_TS:
            expired_ids.add(pk)
    survivors = Table(
        frozenset(row for row in table.outstanding if row[0] not in expired_ids),
        frozenset(row for row in table.blacklisted if row[1] not in expired_ids),
    )
    counts = {
        "scanned": len(table.outstanding),
        "expired": len(expired_ids),
        "blacklisted_deleted": len(expired_ids & blacklisted_ids),
        "outstanding_deleted": len(expired_ids),
        "undecodable": undecodable,
    }
    return survivors, counts


def counts_of(summary: TokenCleanupSummary) -> dict[str, int]:
    return {name: getattr(summary, name) for name in COUNTS}


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a savepoint that is always rolled back: one example, one clean slate."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def log_messages() -> Iterator[list[str]]:
    """Every log message of this module's runs, from one sink for all examples.

    One sink per example would cost more than the example: each `logger.add` builds an
    exception formatter that reads Python's install paths (about 8 ms each).
    """
    messages: list[str] = []
    sink = logger.add(messages.append, level="DEBUG", format="{message}")
    yield messages
    logger.remove(sink)


def run(batch_size: int, dry_run: bool = False) -> TokenCleanupSummary:
    return delete_expired_tokens(
        now=TOKENS_NOW, margin=WEEK, batch_size=batch_size, dry_run=dry_run
    )


# --- The property ----------------------------------------------------------------------


@pytest.mark.django_db
@given(specs=st.lists(row, max_size=30), batch_sizes=st.tuples(*[batch_size] * 4))
# Found by this property: a payload nested deeper than the recursion limit made read_exp
# raise RecursionError and the whole run crash; pyjwt reports it as undecodable.
@example(
    specs=[
        Spec("pyjwt", CUTOFF_TS + 2, False, False, 2_000_000),
        Spec("deep", CUTOFF_TS + 2, False, False, 2_000_000, detail=10_000),
    ],
    batch_sizes=(1, 1, 1, 1),
)
# Found by this property (shrunk to the first row; the other encodings added by hand):
# read_exp decoded the payload as strict UTF-8, so a payload that json.loads(bytes), and
# so pyjwt, reads (UTF-8 with a BOM, UTF-16, a lone surrogate) was judged by expires_at.
@example(
    specs=[
        Spec("encoded", CUTOFF_TS + 2, False, False, 2_000_000, detail="utf-8-sig"),
        Spec("encoded", CUTOFF_TS - 2, True, False, 2_000_000, detail="utf-16"),
        Spec("encoded", CUTOFF_TS - 2, False, False, 2_000_000, detail="surrogate"),
    ],
    batch_sizes=(1, 1, 1, 1),
)
# Found by this property (pyjwt 2.15 checks every segment, even unverified): a payload
# with one "=" that does not pad it to a multiple of 4 was read; pyjwt refuses it.
@example(
    specs=[Spec("bad-payload", CUTOFF_TS + 2, False, False, 2_000_000, detail=(94, "="))],
    batch_sizes=(1, 1, 1, 1),
)
def test_cleanup_deletes_exactly_the_rows_pyjwt_reads_as_expired(
    log_messages: list[str], specs: list[Spec], batch_sizes: tuple[int, int, int, int]
) -> None:
    dry_batch, first_batch, second_batch, again_batch = batch_sizes
    log_messages.clear()  # this example's messages only
    with rolled_back():
        insert(specs)
        before = read_table()
        survivors, expected = predict(before)
        event(f"expired: {'some' if expected['expired'] else 'none'}")
        event(f"undecodable: {'some' if expected['undecodable'] else 'none'}")

        dry = run(dry_batch, dry_run=True)
        assert same_rows(read_table(), before), "a dry run changed the tables"
        assert counts_of(dry) == expected
        assert (dry.dry_run, dry.completed) == (True, True)

        # The same table cleaned at two batch sizes: same rows left, same counts.
        with rolled_back():
            first = run(first_batch)
            after_first = read_table()
        real = run(second_batch)
        after = read_table()
        assert row_ids(after) == row_ids(after_first) == row_ids(survivors)
        assert same_rows(after, survivors), "a surviving row changed"
        assert counts_of(first) == counts_of(real) == expected
        assert (real.dry_run, real.completed) == (False, True)
        assert not BlacklistedToken.objects.exclude(
            token_id__in=OutstandingToken.objects.values("pk")
        ).exists(), "a blacklist row outlived its outstanding token"

        again = run(again_batch)
        assert same_rows(read_table(), after), "the second run changed the tables"
        assert counts_of(again) == {
            "scanned": len(survivors.outstanding),
            "expired": 0,
            "blacklisted_deleted": 0,
            "outstanding_deleted": 0,
            "undecodable": sum(oracle_exp(row[2]) is None for row in survivors.outstanding),
        }

        jwt_like = {row[2] for row in before.outstanding if row[2].count(".") == 2}
        leaked = [
            token for token in jwt_like if len(token) > 20 and any(token in m for m in log_messages)
        ]
        assert not leaked, "a token string appeared in the log"
