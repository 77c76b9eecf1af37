"""The token cutoff, strict: a token goes iff its `exp` < now - margin; literal pairs.

At the daily fire time, 2026-03-01 02:00:00 UTC, with the 7-day margin, the cutoff is
2026-02-22 02:00:00 UTC (POSIX 1771725600): a token that expired one second before it
goes, one that expired exactly at it stays. The `exp` inside the JWT decides, whatever
key or algorithm signed it and whatever `expires_at` says; only a token without a
readable `exp` is judged by `expires_at`, by the same strict rule.
"""

from collections.abc import Callable
from datetime import timedelta

import pytest
from freezegun import freeze_time
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance.tasks import clean_blacklisted_tokens
from tests.clock import LONG_AGO, NEXT_MONTH, utc
from tests.factories import OutstandingTokenFactory, signed_refresh_token
from tests.maintenance.token_support import (
    HEADER,
    ROTATED_KEY,
    numbers,
    pyjwt_token,
    rotated,
    run,
    summary_of,
    tables,
    with_payload,
)

CUTOFF = utc(2026, 2, 22, 2, 0, 0)
CUTOFF_TS = 1771725600  # CUTOFF as POSIX seconds
ONE_S_BEFORE = utc(2026, 2, 22, 1, 59, 59)

pytestmark = pytest.mark.django_db

blacklisted_or_not = pytest.mark.parametrize(
    "blacklisted", [True, False], ids=["blacklisted", "outstanding-only"]
)


def assert_judged(
    row: OutstandingToken, *, blacklisted: bool, deleted: bool, undecodable: bool = False
) -> None:
    """Run once over `row` and a future blacklisted bystander; check both tables and counts."""
    if blacklisted:
        BlacklistedToken.objects.create(token=row)
    bystander = OutstandingTokenFactory(exp=NEXT_MONTH, blacklisted=True)
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


@blacklisted_or_not
@pytest.mark.parametrize(
    ("exp", "deleted"),
    [
        (utc(2026, 2, 22, 1, 59, 59), True),
        (utc(2026, 2, 22, 2, 0, 0), False),
        (utc(2026, 2, 22, 2, 0, 1), False),
    ],
    ids=["expired-1s-before-cutoff", "expired-at-cutoff", "expired-1s-after-cutoff"],
)
def test_simplejwt_token_goes_iff_exp_is_strictly_before_the_cutoff(
    exp: object, deleted: bool, blacklisted: bool
) -> None:
    row = OutstandingTokenFactory(exp=exp)
    assert_judged(row, blacklisted=blacklisted, deleted=deleted)


@pytest.mark.parametrize(
    ("exp", "deleted"),
    [(utc(2026, 3, 1, 1, 59, 59), True), (utc(2026, 3, 1, 2, 0, 0), False)],
    ids=["margin-0-expired-1s-before-now", "margin-0-expired-exactly-now"],
)
def test_margin_zero_moves_the_cutoff_to_now(exp: object, deleted: bool) -> None:
    token = OutstandingTokenFactory(exp=exp, blacklisted=True)

    summary = run(margin=timedelta(0))

    assert OutstandingToken.objects.filter(pk=token.pk).exists() is not deleted
    assert BlacklistedToken.objects.filter(token_id=token.pk).exists() is not deleted
    assert numbers(summary) == summary_of(scanned=1, expired=int(deleted), blacklisted=int(deleted))


@blacklisted_or_not
@pytest.mark.parametrize(
    ("token", "expires_at", "deleted"),
    [
        (lambda: pyjwt_token({"exp": CUTOFF_TS - 1}, key=ROTATED_KEY), ONE_S_BEFORE, True),
        (lambda: pyjwt_token({"exp": CUTOFF_TS}, key=ROTATED_KEY), CUTOFF, False),
        (lambda: rotated({"exp": CUTOFF_TS - 1}, "HS384"), ONE_S_BEFORE, True),
        (lambda: rotated({"exp": CUTOFF_TS}, "HS384"), CUTOFF, False),
        (lambda: rotated({"exp": CUTOFF_TS - 1}, "HS512"), ONE_S_BEFORE, True),
        (lambda: rotated({"exp": CUTOFF_TS}, "HS512"), CUTOFF, False),
        (lambda: pyjwt_token({"exp": CUTOFF_TS - 0.5}), CUTOFF, True),
        (lambda: pyjwt_token({"exp": float(CUTOFF_TS)}), ONE_S_BEFORE, False),
        (lambda: pyjwt_token({"exp": CUTOFF_TS + 0.5}), ONE_S_BEFORE, False),
        (
            lambda: signed_refresh_token(user_id=1, jti="a" * 32, exp=ONE_S_BEFORE),
            NEXT_MONTH,
            True,
        ),
        (lambda: signed_refresh_token(user_id=1, jti="b" * 32, exp=CUTOFF), LONG_AGO, False),
    ],
    ids=[
        "rotated-key-1s-before",
        "rotated-key-at-cutoff",
        "hs384-1s-before",
        "hs384-at-cutoff",
        "hs512-1s-before",
        "hs512-at-cutoff",
        "float-half-second-before",
        "float-exactly-at-cutoff",
        "float-half-second-after",
        "exp-before-but-expires_at-next-month",
        "exp-at-cutoff-but-expires_at-long-past",
    ],
)
def test_a_readable_exp_decides_whatever_the_key_algorithm_or_expires_at(
    token: Callable[[], str], expires_at: object, deleted: bool, blacklisted: bool
) -> None:
    row = OutstandingTokenFactory(token=token(), expires_at=expires_at)
    assert_judged(row, blacklisted=blacklisted, deleted=deleted)


UNREADABLE = {
    "missing-exp": lambda: pyjwt_token({}),
    "string-exp": lambda: pyjwt_token({"exp": str(CUTOFF_TS - 86400)}),
    "not-a-jwt": lambda: "opaque session secret 8f1c2d",
    "bad-base64": lambda: f"{HEADER}.e!!!.sig",
    "bad-json": lambda: with_payload(b'{"exp": 1771639200,'),
}


@blacklisted_or_not
@pytest.mark.parametrize(
    ("expires_at", "deleted"),
    [(ONE_S_BEFORE, True), (CUTOFF, False)],
    ids=["expires_at-1s-before-cutoff", "expires_at-at-cutoff"],
)
@pytest.mark.parametrize("token", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_exp_falls_back_to_expires_at_and_is_counted(
    token: Callable[[], str], expires_at: object, deleted: bool, blacklisted: bool
) -> None:
    row = OutstandingTokenFactory(token=token(), expires_at=expires_at)
    assert_judged(row, blacklisted=blacklisted, deleted=deleted, undecodable=True)


@pytest.mark.eager
@pytest.mark.usefixtures("eager")
@pytest.mark.parametrize(
    ("exp", "kept"),
    [
        (utc(2026, 2, 22, 1, 59, 59), False),
        (utc(2026, 2, 22, 2, 0, 0), True),
        (utc(2026, 2, 22, 2, 0, 1), True),
    ],
    ids=["expired-1s-before-cutoff-deleted", "expired-at-cutoff-kept", "1s-after-cutoff-kept"],
)
def test_the_task_at_its_fire_time_takes_now_from_the_clock(exp: object, kept: bool) -> None:
    judged = OutstandingTokenFactory(exp=exp, blacklisted=True)
    recent = OutstandingTokenFactory(exp=NEXT_MONTH, blacklisted=True)

    with freeze_time(utc(2026, 3, 1, 2, 0, 0)):
        summary = clean_blacklisted_tokens.delay().get()

    expected = {judged.jti, recent.jti} if kept else {recent.jti}
    assert tables() == (expected, expected)
    removed = 0 if kept else 1
    assert (summary["scanned"], summary["expired"]) == (2, removed)
    assert (summary["blacklisted_deleted"], summary["outstanding_deleted"]) == (removed, removed)
