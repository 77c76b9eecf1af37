"""Property: `delete_expired_tokens` agrees with an independent oracle on random token tables.

Hypothesis draws a table of outstanding tokens in mixed shapes (JWTs signed by pyjwt under
several keys and HMAC algorithms and by simplejwt; integer, float, missing, string,
boolean, non-finite and huge `exp`; payloads that are not objects, not JSON or nested too
deeply; tampered segments; plain text), with `expires_at` agreeing with `exp` or not, and
blacklists a random subset. The oracle is pyjwt's own `jwt.decode` without signature
verification, falling back to `expires_at` when it yields no finite numeric `exp`; it
shares no code with `maintenance.tokens`.

Left out on purpose: a malformed header or signature segment. `read_exp` reads only the
payload, by design (test_tokens.py: "whatever the signature"), while pyjwt rejects the
whole token; on such a token the two disagree, and that choice is the token module's.
Also left out: nesting depths near the recursion limit (see the "deep" shape).
"""

import base64
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.db import transaction
from hypothesis import event, example, given
from hypothesis import strategies as st
from loguru import logger
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens

# Run without coverage's tracer (pytest-cov's marker): under it these examples take twice
# as long, and the example tests alone must reach the 100% that `make test` enforces.
pytestmark = pytest.mark.no_cover

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # daily 02:00 UTC slot
MARGIN = timedelta(days=7)
CUTOFF = datetime(2026, 2, 22, 2, 0, tzinfo=UTC)  # NOW - MARGIN, written out
CUTOFF_TS = 1_771_725_600  # CUTOFF as POSIX seconds
NEAR_S = 2  # no exp or expires_at closer than this to the cutoff
SPREAD_S = 60 * 86_400

KEYS = tuple(f"property-test-signing-key-{n}-".ljust(64, "k") for n in range(3))
ALGORITHMS = ("HS256", "HS384", "HS512")
ENCODINGS = ("utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "surrogate")
COUNTS = ("scanned", "expired", "blacklisted_deleted", "outstanding_deleted", "undecodable")

# --- Strategies ----------------------------------------------------------------------

_offset_s = st.integers(NEAR_S, SPREAD_S) | st.floats(NEAR_S, SPREAD_S)
_exp = st.one_of(
    _offset_s.map(lambda s: CUTOFF_TS + s),
    _offset_s.map(lambda s: CUTOFF_TS - s),
)
# An `exp` claim that is not a usable number, or a number far outside any real lifetime.
_odd_exp = st.one_of(
    st.sampled_from(["missing", None, True, False, math.nan, math.inf, -math.inf, [], {}]),
    _exp.map(str),
    _exp.map(lambda exp: [exp]),
    st.integers(-(10**400), 10**400),  # JSON integers have no size limit
    st.floats(allow_nan=False, allow_infinity=False),
).filter(lambda exp: not isinstance(exp, int | float) or abs(exp - CUTOFF_TS) >= NEAR_S)
_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40)


@dataclass(frozen=True)
class Spec:
    """One row to insert: how to make its token, its `expires_at`, whether blacklisted."""

    shape: str
    exp: int | float
    blacklisted: bool
    expires_at_agrees: bool  # expires_at = exp when exp is a plausible number
    expires_at_offset_us: int  # otherwise CUTOFF + this, never within NEAR_S of it
    key: int = 0
    algorithm: str = "HS256"
    detail: object = None  # shape-specific: odd exp, text, bytes, depth, (position, char)


_NONE = st.none()


def _spec(shape: str, detail: st.SearchStrategy = _NONE) -> st.SearchStrategy[Spec]:
    offset_us = st.integers(NEAR_S * 10**6, SPREAD_S * 10**6)
    return st.builds(
        Spec,
        shape=st.just(shape),
        exp=_exp,
        blacklisted=st.booleans(),
        expires_at_agrees=st.booleans(),
        expires_at_offset_us=offset_us | offset_us.map(lambda us: -us),
        key=st.integers(0, len(KEYS) - 1),
        algorithm=st.sampled_from(ALGORITHMS),
        detail=detail,
    )


_row = st.one_of(
    _spec("pyjwt"),
    _spec("simplejwt"),
    _spec("odd-exp", _odd_exp),
    _spec("not-object", st.one_of(st.lists(st.integers(), max_size=3), _text, st.integers())),
    _spec("not-json", st.binary(max_size=30)),
    # Nesting depth of a claim beside exp: parsable, or far deeper than any JSON parser
    # takes (json stops at the recursion limit, which Hypothesis raises while a test runs).
    # Depths near the limit are left out: whether they parse depends on how deep the
    # caller's stack already is, so pyjwt and the code under test may honestly disagree.
    _spec("deep", st.integers(1, 100) | st.integers(10_000, 20_000)),
    # The claims as JSON in another Unicode encoding, or with a UTF-8-encoded lone surrogate.
    _spec("encoded", st.sampled_from(ENCODINGS)),
    _spec("bad-payload", st.tuples(st.integers(0, 200), st.sampled_from("+/=!. é"))),
    _spec("text", _text | st.lists(_text, min_size=2, max_size=4).map(".".join)),
)
_batch_size = st.integers(1, 50)


# --- Making the tokens -----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _assemble(payload: bytes) -> str:
    return ".".join([_b64(b'{"alg":"HS256","typ":"JWT"}'), _b64(payload), _b64(b"signature")])


def make_token(spec: Spec, index: int) -> str:
    claims = {"token_type": "refresh", "exp": spec.exp, "jti": f"prop-{index}", "user_id": "7"}
    if spec.shape == "pyjwt":
        return jwt.encode(claims, KEYS[spec.key], algorithm=spec.algorithm)
    if spec.shape == "simplejwt":
        token = RefreshToken()  # signed with the project's SIMPLE_JWT settings
        token["exp"], token["jti"] = int(spec.exp), f"prop-{index}"
        return str(token)
    if spec.shape == "odd-exp":
        if spec.detail == "missing":
            del claims["exp"]
        else:
            claims["exp"] = spec.detail
        return jwt.encode(claims, KEYS[spec.key], algorithm=spec.algorithm)
    if spec.shape == "not-object":
        return _assemble(json.dumps(spec.detail).encode())
    if spec.shape == "not-json":
        return _assemble(spec.detail)
    if spec.shape == "deep":
        depth = spec.detail
        return _assemble(b'{"exp": %d, "n": %s%s}' % (int(spec.exp), b"[" * depth, b"]" * depth))
    if spec.shape == "encoded":
        if spec.detail == "surrogate":
            return _assemble(b'{"exp": %d, "sub": "\xed\xa0\x80"}' % int(spec.exp))
        return _assemble(json.dumps({"exp": spec.exp}).encode(spec.detail))
    if spec.shape == "bad-payload":
        header, payload, signature = jwt.encode(claims, KEYS[spec.key], spec.algorithm).split(".")
        position, char = spec.detail
        position %= len(payload) + 1
        return ".".join([header, payload[:position] + char + payload[position:], signature])
    assert spec.shape == "text", spec.shape
    return spec.detail


def make_expires_at(spec: Spec) -> datetime:
    if spec.expires_at_agrees and spec.shape in ("pyjwt", "simplejwt", "deep", "bad-payload"):
        exp = int(spec.exp) if spec.shape in ("simplejwt", "deep") else spec.exp
        return datetime.fromtimestamp(exp, UTC)
    return CUTOFF + timedelta(microseconds=spec.expires_at_offset_us)


def insert(specs: list[Spec]) -> None:
    OutstandingToken.objects.bulk_create(
        OutstandingToken(
            jti=f"prop-{index}", token=make_token(spec, index), expires_at=make_expires_at(spec)
        )
        for index, spec in enumerate(specs)
    )
    by_jti = dict(OutstandingToken.objects.values_list("jti", "pk"))
    BlacklistedToken.objects.bulk_create(
        BlacklistedToken(token_id=by_jti[f"prop-{index}"])
        for index, spec in enumerate(specs)
        if spec.blacklisted
    )


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
    return delete_expired_tokens(now=NOW, margin=MARGIN, batch_size=batch_size, dry_run=dry_run)


# --- The property ----------------------------------------------------------------------


@pytest.mark.django_db
@given(specs=st.lists(_row, max_size=30), batch_sizes=st.tuples(*[_batch_size] * 4))
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


def test_literal_cutoff_is_now_minus_margin() -> None:
    assert CUTOFF == NOW - MARGIN
    assert CUTOFF.timestamp() == CUTOFF_TS
