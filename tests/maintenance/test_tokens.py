"""delete_expired_tokens: each real JWT judged by its own `exp`, both tables, in batches."""

import base64
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from unittest import mock

import jwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance import tokens
from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens, read_exp
from tests.factories import (
    BlacklistedTokenFactory,
    OutstandingTokenFactory,
    UserFactory,
    signed_refresh_token,
)

NOW = datetime(2026, 3, 1, 2, 0, 0, tzinfo=UTC)  # the daily 02:00 UTC fire time
MARGIN = timedelta(days=7)
CUTOFF = datetime(2026, 2, 22, 2, 0, 0, tzinfo=UTC)  # NOW - MARGIN
CUTOFF_TS = 1771725600  # CUTOFF as a Unix time
ONE_S_BEFORE_CUTOFF = datetime(2026, 2, 22, 1, 59, 59, tzinfo=UTC)
LONG_AGO = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
NEXT_MONTH = datetime(2026, 4, 1, 0, 0, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def run(**overrides: object) -> TokenCleanupSummary:
    arguments = {"now": NOW, "margin": MARGIN, "batch_size": 1000, "dry_run": False}
    return delete_expired_tokens(**(arguments | overrides))


def tables() -> tuple[set[str], set[str]]:
    """The jtis in the outstanding table and in the blacklist table."""
    outstanding = set(OutstandingToken.objects.values_list("jti", flat=True))
    blacklisted = set(BlacklistedToken.objects.values_list("token__jti", flat=True))
    return outstanding, blacklisted


def numbers(summary: TokenCleanupSummary) -> dict:
    """The summary without its timing, after checking the timing is a sane number."""
    result = summary.as_dict()
    duration = result.pop("duration_s")
    assert isinstance(duration, float)
    assert 0 <= duration < 60
    return result


def summary_of(*, scanned: int, expired: int, blacklisted: int, undecodable: int = 0) -> dict:
    return {
        "scanned": scanned,
        "expired": expired,
        "blacklisted_deleted": blacklisted,
        "outstanding_deleted": expired,
        "undecodable": undecodable,
        "dry_run": False,
        "completed": True,
    }


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def pyjwt_token(payload: dict, *, key: str | None = None, algorithm: str = "HS256") -> str:
    """A JWT made with pyjwt, for the shapes simplejwt never writes."""
    claims = {"token_type": "refresh", "jti": "x" * 32, "user_id": "1"} | payload
    return jwt.encode(claims, key or api_settings.SIGNING_KEY, algorithm=algorithm)


ROTATED_KEY = "an-old-signing-key-since-rotated-away-" * 2  # long enough for HS512


def rotated(payload: dict, algorithm: str = "HS256") -> str:
    """A JWT signed with a key (and maybe an algorithm) this project no longer uses."""
    return pyjwt_token(payload, key=ROTATED_KEY, algorithm=algorithm)


HEADER = b64url(b'{"alg":"HS256","typ":"JWT"}')
EXP_PAYLOAD = b64url(b'{"exp": 1771725600}')


def with_payload(raw: bytes) -> str:
    """A JWT-shaped string whose payload segment is `raw`, base64url-encoded."""
    return f"{HEADER}.{b64url(raw)}.{b64url(b'signature')}"


# --- read_exp: the payload read, without the signature ---------------------------------


@pytest.mark.parametrize(
    ("token", "exp"),
    [
        (lambda: pyjwt_token({"exp": CUTOFF_TS}), CUTOFF_TS),
        (lambda: pyjwt_token({"exp": CUTOFF_TS}, key=ROTATED_KEY), CUTOFF_TS),
        (lambda: rotated({"exp": CUTOFF_TS}, "HS384"), CUTOFF_TS),
        (lambda: rotated({"exp": CUTOFF_TS}, "HS512"), CUTOFF_TS),
        (lambda: pyjwt_token({"exp": CUTOFF_TS - 0.5}), CUTOFF_TS - 0.5),
        (lambda: pyjwt_token({"exp": -1}), -1),
        (lambda: with_payload(b'{"exp": 10000000000000000000000}'), 10**22),
        (lambda: with_payload(b' {"exp":1771725600} '), CUTOFF_TS),
        (lambda: with_payload('{"exp": 1771725600}'.encode("utf-16-le")), CUTOFF_TS),
        (lambda: with_payload('{"exp": 1771725600}'.encode("utf-8-sig")), CUTOFF_TS),
    ],
    ids=[
        "simplejwt-key-hs256",
        "rotated-key",
        "hs384",
        "hs512",
        "float",
        "negative",
        "huge-int",
        "json-with-spaces",
        "utf-16-json",
        "utf-8-bom-json",
    ],
)
def test_read_exp_returns_the_payload_exp_whatever_the_signature(
    token: Callable[[], str], exp: float
) -> None:
    assert read_exp(token()) == exp


@pytest.mark.parametrize(
    "token",
    [
        lambda: pyjwt_token({}),
        lambda: pyjwt_token({"exp": str(CUTOFF_TS)}),
        lambda: pyjwt_token({"exp": True}),
        lambda: pyjwt_token({"exp": None}),
        lambda: pyjwt_token({"exp": [CUTOFF_TS]}),
        lambda: with_payload(b'{"exp": NaN}'),
        lambda: with_payload(b'{"exp": Infinity}'),
        lambda: with_payload(b'{"exp": 1e400}'),
        lambda: with_payload(b"[1771725600]"),
        lambda: with_payload(b"1771725600"),
        lambda: with_payload(b'{"exp": 1771725600'),
        lambda: with_payload(b'{"exp": 1771725600} {"exp": 1}'),
        lambda: with_payload(b'{"exp": 1771725600}x'),
        lambda: with_payload(b""),
        lambda: with_payload(b"[" * 100_000 + b"]" * 100_000),
        lambda: with_payload(b'{"exp": 1771725600, "sub": "\xff"}'),
        lambda: "not a jwt at all",
        lambda: "",
        lambda: f"{HEADER}.{b64url(b'{}')}",
        lambda: pyjwt_token({"exp": CUTOFF_TS}) + ".extra",
        lambda: f"{HEADER}.e!!!.sig",
        lambda: f"{HEADER}.{EXP_PAYLOAD[:-1]}.sig",
        # Valid JSON with an exp, but in the standard alphabet ("+"), not base64url ("-").
        lambda: f"{HEADER}.eyJleHAiOiAxNzcxNzI1NTk5LCAic3ViIjogIn5+In0.sig",
        lambda: f"{HEADER}.eyJleHAiOjF9é.sig",
        # What a lenient base64 decoder would skip over and read anyway.
        lambda: f"{HEADER}.{EXP_PAYLOAD[:4]}+/+/{EXP_PAYLOAD[4:]}.sig",
        lambda: f"{HEADER}.{EXP_PAYLOAD[:4]}\n\n\n\n{EXP_PAYLOAD[4:]}.sig",
        # Whitespace JSON does not allow around the object (it allows space, tab, CR, LF).
        lambda: with_payload(b'\x0c{"exp": 1771725600}'),
        lambda: with_payload(b'{"exp": 1771725600}\x0b'),
    ],
    ids=[
        "missing-exp",
        "string-exp",
        "bool-exp",
        "null-exp",
        "list-exp",
        "nan-exp",
        "infinite-exp",
        "overflowing-exp",
        "payload-is-a-list",
        "payload-is-a-number",
        "truncated-json",
        "trailing-json",
        "trailing-garbage",
        "empty-payload",
        "nested-too-deep",
        "invalid-utf8",
        "no-dots",
        "empty",
        "two-segments",
        "four-segments",
        "bad-base64-chars",
        "bad-base64-length",
        "standard-not-url-alphabet",
        "non-ascii",
        "standard-alphabet-in-whole-quads",
        "newlines-inside",
        "form-feed-before-json",
        "vertical-tab-after-json",
    ],
)
def test_read_exp_returns_none_when_exp_is_not_a_finite_number(token: Callable[[], str]) -> None:
    assert read_exp(token()) is None


# --- the cutoff, on tokens simplejwt itself issued and blacklisted ----------------------


@pytest.mark.parametrize("blacklisted", [True, False], ids=["blacklisted", "outstanding-only"])
@pytest.mark.parametrize(
    ("exp", "deleted"),
    [
        (LONG_AGO, True),
        (ONE_S_BEFORE_CUTOFF, True),
        (CUTOFF, False),
        (datetime(2026, 2, 22, 2, 0, 1, tzinfo=UTC), False),
        (datetime(2026, 2, 28, 2, 0, 0, tzinfo=UTC), False),
        (NEXT_MONTH, False),
    ],
    ids=[
        "expired-2-months",
        "1s-beyond-margin",
        "exactly-at-margin",
        "1s-within-margin",
        "expired-1d-within-margin",
        "future",
    ],
)
def test_simplejwt_token_is_deleted_iff_exp_is_strictly_before_now_minus_margin(
    mint_refresh_token: Callable[..., OutstandingToken],
    exp: datetime,
    deleted: bool,
    blacklisted: bool,
) -> None:
    token = mint_refresh_token(exp=exp, blacklisted=blacklisted)
    assert token.expires_at == exp  # simplejwt wrote the column from the JWT
    bystander = mint_refresh_token(exp=NEXT_MONTH, blacklisted=True)
    before = tables()
    assert before == (
        {token.jti, bystander.jti},
        {bystander.jti} | ({token.jti} if blacklisted else set()),
    )

    summary = run()

    gone = {token.jti} if deleted else set()
    assert tables() == (before[0] - gone, before[1] - gone)
    assert numbers(summary) == summary_of(
        scanned=2, expired=int(deleted), blacklisted=int(deleted and blacklisted)
    )


@pytest.mark.parametrize(
    ("exp", "deleted"),
    [(datetime(2026, 3, 1, 1, 59, 59, tzinfo=UTC), True), (NOW, False)],
    ids=["1s-before-now", "exactly-now"],
)
def test_margin_zero_deletes_what_expired_before_now(
    mint_refresh_token: Callable[..., OutstandingToken], exp: datetime, deleted: bool
) -> None:
    token = mint_refresh_token(exp=exp, blacklisted=True)

    summary = run(margin=timedelta(0))

    assert OutstandingToken.objects.filter(pk=token.pk).exists() is not deleted
    assert BlacklistedToken.objects.filter(token_id=token.pk).exists() is not deleted
    assert numbers(summary) == summary_of(scanned=1, expired=int(deleted), blacklisted=int(deleted))


@pytest.mark.parametrize(
    ("exp", "deleted"), [(LONG_AGO, True), (NEXT_MONTH, False)], ids=["expired", "future"]
)
def test_token_of_a_deleted_user_is_judged_the_same(
    mint_refresh_token: Callable[..., OutstandingToken], exp: datetime, deleted: bool
) -> None:
    user = UserFactory()
    token = mint_refresh_token(exp=exp, blacklisted=True, user=user)
    user.delete()
    token.refresh_from_db()
    assert token.user_id is None

    summary = run()

    assert OutstandingToken.objects.filter(pk=token.pk).exists() is not deleted
    assert BlacklistedToken.objects.filter(token_id=token.pk).exists() is not deleted
    assert numbers(summary) == summary_of(scanned=1, expired=int(deleted), blacklisted=int(deleted))


# --- shapes simplejwt never writes: exp still decides, else expires_at -----------------


def assert_judged(
    row: OutstandingToken, *, blacklisted: bool, deleted: bool, undecodable: bool
) -> None:
    """Run once over `row` and a future blacklisted bystander; check both tables and counts."""
    if blacklisted:
        BlacklistedToken.objects.create(token=row)
    bystander = BlacklistedTokenFactory(token__exp=NEXT_MONTH).token
    before = tables()
    assert before == (
        {row.jti, bystander.jti},
        {bystander.jti} | ({row.jti} if blacklisted else set()),
    )

    summary = run()

    gone = {row.jti} if deleted else set()
    assert tables() == (before[0] - gone, before[1] - gone)
    assert numbers(summary) == summary_of(
        scanned=2,
        expired=int(deleted),
        blacklisted=int(deleted and blacklisted),
        undecodable=int(undecodable),
    )


@pytest.mark.parametrize("blacklisted", [True, False], ids=["blacklisted", "outstanding-only"])
@pytest.mark.parametrize(
    ("token", "expires_at", "deleted"),
    [
        (lambda: pyjwt_token({"exp": CUTOFF_TS - 1}, key=ROTATED_KEY), ONE_S_BEFORE_CUTOFF, True),
        (lambda: pyjwt_token({"exp": CUTOFF_TS}, key=ROTATED_KEY), CUTOFF, False),
        (
            lambda: rotated({"exp": CUTOFF_TS - 1}, "HS384"),
            ONE_S_BEFORE_CUTOFF,
            True,
        ),
        (
            lambda: rotated({"exp": CUTOFF_TS}, "HS384"),
            CUTOFF,
            False,
        ),
        (
            lambda: rotated({"exp": CUTOFF_TS - 1}, "HS512"),
            ONE_S_BEFORE_CUTOFF,
            True,
        ),
        (
            lambda: rotated({"exp": CUTOFF_TS}, "HS512"),
            CUTOFF,
            False,
        ),
        (lambda: pyjwt_token({"exp": CUTOFF_TS - 0.5}), CUTOFF, True),
        (lambda: pyjwt_token({"exp": float(CUTOFF_TS)}), ONE_S_BEFORE_CUTOFF, False),
        (lambda: pyjwt_token({"exp": CUTOFF_TS + 0.5}), ONE_S_BEFORE_CUTOFF, False),
        (
            lambda: signed_refresh_token(user_id=1, jti="a" * 32, exp=ONE_S_BEFORE_CUTOFF),
            NEXT_MONTH,
            True,
        ),
        (lambda: signed_refresh_token(user_id=1, jti="b" * 32, exp=CUTOFF), LONG_AGO, False),
    ],
    ids=[
        "rotated-key-1s-beyond",
        "rotated-key-at-margin",
        "hs384-1s-beyond",
        "hs384-at-margin",
        "hs512-1s-beyond",
        "hs512-at-margin",
        "float-half-second-beyond",
        "float-exactly-at-margin",
        "float-half-second-within",
        "exp-expired-but-expires_at-future",
        "exp-at-margin-but-expires_at-long-past",
    ],
)
def test_a_readable_exp_decides_whatever_the_key_algorithm_or_expires_at(
    token: Callable[[], str], expires_at: datetime, deleted: bool, blacklisted: bool
) -> None:
    row = OutstandingTokenFactory(token=token(), expires_at=expires_at)
    assert_judged(row, blacklisted=blacklisted, deleted=deleted, undecodable=False)


UNREADABLE = {
    "missing-exp": lambda: pyjwt_token({}),
    "string-exp": lambda: pyjwt_token({"exp": str(CUTOFF_TS - 86400)}),
    "not-a-jwt": lambda: "opaque session secret 8f1c2d",
    "bad-base64": lambda: f"{HEADER}.e!!!.sig",
    "bad-json": lambda: with_payload(b'{"exp": 1771639200,'),
}


@pytest.mark.parametrize("blacklisted", [True, False], ids=["blacklisted", "outstanding-only"])
@pytest.mark.parametrize(
    ("expires_at", "deleted"),
    [(ONE_S_BEFORE_CUTOFF, True), (CUTOFF, False)],
    ids=["expires_at-1s-beyond", "expires_at-at-margin"],
)
@pytest.mark.parametrize("token", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_exp_falls_back_to_expires_at_and_is_counted(
    token: Callable[[], str], expires_at: datetime, deleted: bool, blacklisted: bool
) -> None:
    row = OutstandingTokenFactory(token=token(), expires_at=expires_at)
    assert_judged(row, blacklisted=blacklisted, deleted=deleted, undecodable=True)


# --- a mixed table, in batches ---------------------------------------------------------

# One letter per token, in pk order: E expired JWT, K kept JWT, U unreadable with
# expires_at long past, u unreadable with expires_at next month; "+" blacklisted.
TWENTY = [
    *("E+", "K", "E", "K+", "E+", "U+", "E", "K", "u", "E+"),
    *("E", "K+", "U", "E+", "K", "E", "u+", "E+", "K", "E"),
]
TWENTY_SUMMARY = summary_of(scanned=20, expired=12, blacklisted=6, undecodable=4)


@pytest.fixture
def twenty_tokens() -> list[OutstandingToken]:
    """The TWENTY table; returns its rows in pk order."""
    rows = []
    for n, spec in enumerate(TWENTY):
        kind = spec[0]
        if kind in "EK":
            row = OutstandingTokenFactory(
                jti=f"{n:02}{spec}", exp=LONG_AGO if kind == "E" else NEXT_MONTH
            )
        else:
            row = OutstandingTokenFactory(
                jti=f"{n:02}{spec}",
                token=f"unreadable token text {n}",
                expires_at=LONG_AGO if kind == "U" else NEXT_MONTH,
            )
        if spec.endswith("+"):
            BlacklistedToken.objects.create(token=row)
        rows.append(row)
    return rows


def survivors_of_twenty() -> tuple[set[str], set[str]]:
    kept = {f"{n:02}{spec}" for n, spec in enumerate(TWENTY) if spec[0] in "Ku"}
    return kept, {jti for jti in kept if jti.endswith("+")}


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


def test_ids_beyond_the_backends_parameter_limit_are_deleted_in_chunks(
    twenty_tokens: list[OutstandingToken], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection.features, "max_query_params", 3)
    with CaptureQueriesContext(connection) as captured:
        summary = run(batch_size=7)

    assert tables() == survivors_of_twenty()
    assert numbers(summary) == TWENTY_SUMMARY
    sizes = [size for q in captured.captured_queries for size in in_list_sizes(q["sql"])]
    assert sizes
    assert max(sizes) == 3


def test_unreadable_rows_beyond_the_parameter_limit_are_all_judged_by_expires_at(
    twenty_tokens: list[OutstandingToken], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One batch holds all four unreadable rows; each expires_at look-up takes one id.
    monkeypatch.setattr(connection.features, "max_query_params", 1)
    summary = run(batch_size=20)

    assert tables() == survivors_of_twenty()
    assert numbers(summary) == TWENTY_SUMMARY


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


# --- concurrency, in one process -------------------------------------------------------


def test_rows_another_run_deleted_between_read_and_delete_are_not_errors_nor_counted(
    twenty_tokens: list[OutstandingToken],
) -> None:
    """A second, complete run slips in after the first read its first batch."""
    real_delete_batch = tokens._delete_batch
    interleaved: list[TokenCleanupSummary] = []

    def delete_batch_after_another_run(ids, summary, using):
        if not interleaved:
            interleaved.append(TokenCleanupSummary())  # guard: the inner run is not hooked
            interleaved[0] = run(batch_size=7)
        return real_delete_batch(ids, summary, using)

    with mock.patch.object(tokens, "_delete_batch", side_effect=delete_batch_after_another_run):
        first = run(batch_size=7)
    other = interleaved[0]

    assert tables() == survivors_of_twenty()
    assert numbers(other) == TWENTY_SUMMARY
    # The first run judged its first batch (5 expired of 7) before the other run deleted
    # them; afterwards it saw only the 6 survivors beyond that batch.
    assert numbers(first) == summary_of(scanned=13, expired=5, blacklisted=0, undecodable=3) | {
        "outstanding_deleted": 0
    }
    assert first.outstanding_deleted + other.outstanding_deleted == 12
    assert first.blacklisted_deleted + other.blacklisted_deleted == 6


@pytest.mark.parametrize("dry_run", [False, True], ids=["real", "dry-run"])
def test_a_row_gone_before_the_delete_is_skipped_and_the_rest_counted(
    twenty_tokens: list[OutstandingToken], dry_run: bool
) -> None:
    real_delete_batch = tokens._delete_batch
    vanished = twenty_tokens[0]  # expired and blacklisted, in the first batch
    before = tables()

    def delete_batch_after_one_vanished(ids, summary, using):
        if vanished.pk in ids:
            BlacklistedToken.objects.filter(token_id=vanished.pk).delete()
            OutstandingToken.objects.filter(pk=vanished.pk).delete()
        return real_delete_batch(ids, summary, using)

    with mock.patch.object(tokens, "_delete_batch", side_effect=delete_batch_after_one_vanished):
        summary = run(batch_size=7, dry_run=dry_run)

    after = tables()
    assert vanished.jti not in after[0]
    if dry_run:  # only the other run's delete happened
        assert after == (before[0] - {vanished.jti}, before[1] - {vanished.jti})
    else:
        assert after == survivors_of_twenty()
    assert numbers(summary) == TWENTY_SUMMARY | {
        "blacklisted_deleted": 5,
        "outstanding_deleted": 11,
        "dry_run": dry_run,
    }


# --- logs ------------------------------------------------------------------------------


def test_logs_name_unreadable_rows_by_id_and_never_show_token_text(
    raw_log: list[str],
) -> None:
    texts = {
        "missing-exp": pyjwt_token({}),
        "not-a-jwt": "opaque session secret 8f1c2d",
        "bad-json": with_payload(b'{"exp": 1771639200,'),
        "readable": pyjwt_token({"exp": CUTOFF_TS - 1}),
    }
    rows = {
        name: OutstandingTokenFactory(token=text, expires_at=LONG_AGO)
        for name, text in texts.items()
    }

    summary = run()

    assert summary.undecodable == 3
    assert summary.outstanding_deleted == 4
    log = "\n".join(raw_log)
    for text in texts.values():
        assert text not in log
        for segment in text.split("."):
            assert len(segment) < 8 or segment not in log
    warnings = [line for line in raw_log if line.startswith("WARNING|")]
    assert sorted(warnings) == sorted(
        f"WARNING|outstanding token id={rows[name].pk} has no readable exp;"
        " judged by expires_at|{}|\n"
        for name in ("missing-exp", "not-a-jwt", "bad-json")
    )
    infos = [line for line in raw_log if line.startswith("INFO|")]
    # One summary line, as the guide tells operators to grep for it ("summary:").
    assert infos == [f"INFO|clean_blacklisted_tokens summary: {summary.as_dict()}|{{}}|\n"]
    assert "'undecodable': 3" in infos[0]


# --- arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"margin": timedelta(seconds=-1)}, "margin must not be negative"),
        ({"now": datetime(2026, 3, 1, 2, 0, 0)}, "now must be timezone-aware"),
    ],
    ids=["batch-size-zero", "negative-margin", "naive-now"],
)
def test_bad_arguments_are_refused_before_anything_is_deleted(
    overrides: dict, message: str, twenty_tokens: list[OutstandingToken]
) -> None:
    before = tables()
    with pytest.raises(ValueError, match=f"^{message}"):  # the message starts with it
        run(**overrides)
    assert tables() == before


def test_json_summary_is_serializable() -> None:
    assert json.loads(json.dumps(run().as_dict()))["scanned"] == 0


def test_factory_tokens_are_simplejwt_signed_and_expires_at_matches_exp() -> None:
    row = OutstandingTokenFactory(exp=datetime(2026, 2, 22, 1, 59, 59, 999999, tzinfo=UTC))
    claims = jwt.decode(
        row.token,
        api_settings.SIGNING_KEY,
        algorithms=[api_settings.ALGORITHM],
        options={"verify_exp": False},
    )
    assert claims["exp"] == CUTOFF_TS - 1
    assert claims["jti"] == row.jti
    assert claims["user_id"] == str(row.user_id)
    assert row.expires_at == ONE_S_BEFORE_CUTOFF
