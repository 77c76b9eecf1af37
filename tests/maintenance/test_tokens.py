"""delete_expired_tokens: both tables, races, logs without token text, its arguments.

The cutoff itself, at literal instants either side of it: test_token_cutoff.py.
"""

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from freezegun import freeze_time
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from maintenance.tokens import TokenCleanupSummary
from tests.clock import LONG_AGO, NEXT_MONTH, utc
from tests.factories import OutstandingTokenFactory, UserFactory
from tests.maintenance.token_support import (
    BLACKLIST_COUNT,
    BLACKLIST_DELETE,
    TWENTY_SUMMARY,
    before_each,
    log_lines,
    numbers,
    pyjwt_token,
    run,
    summary_of,
    survivors_of_twenty,
    tables,
    with_payload,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("exp", "deleted"), [(LONG_AGO, True), (NEXT_MONTH, False)], ids=["expired", "future"]
)
def test_token_of_a_deleted_user_is_judged_the_same(exp: datetime, deleted: bool) -> None:
    user = UserFactory()
    token = OutstandingTokenFactory(exp=exp, blacklisted=True, user=user)
    user.delete()
    token.refresh_from_db()
    assert token.user_id is None

    summary = run()

    assert OutstandingToken.objects.filter(pk=token.pk).exists() is not deleted
    assert BlacklistedToken.objects.filter(token_id=token.pk).exists() is not deleted
    assert numbers(summary) == summary_of(scanned=1, expired=int(deleted), blacklisted=int(deleted))


# --- concurrency, in one process -------------------------------------------------------


def test_rows_another_run_deleted_between_read_and_delete_are_not_errors_nor_counted(
    twenty_tokens: list[OutstandingToken],
) -> None:
    """A second, complete run slips in after the first judged its first batch."""
    interleaved: list[TokenCleanupSummary] = []

    def another_run(n: int, ids: list[int]) -> None:
        if n == 1:
            interleaved.append(run(batch_size=7))

    with before_each(BLACKLIST_DELETE, another_run):
        first = run(batch_size=7)
    (other,) = interleaved

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
    vanished = twenty_tokens[0]  # expired and blacklisted, in the first batch
    before = tables()

    def one_vanishes(n: int, ids: list[int]) -> None:
        if vanished.pk in ids:
            BlacklistedToken.objects.filter(token_id=vanished.pk).delete()
            OutstandingToken.objects.filter(pk=vanished.pk).delete()

    with before_each(BLACKLIST_COUNT if dry_run else BLACKLIST_DELETE, one_vanishes):
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


@pytest.mark.usefixtures("unredacted")
def test_logs_name_unreadable_rows_by_id_and_never_show_token_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    texts = {
        "missing-exp": pyjwt_token({}),
        "not-a-jwt": "opaque session secret 8f1c2d",
        "bad-json": with_payload(b'{"exp": 1771639200,'),
        "readable": pyjwt_token({"exp": 1771725599}),
    }
    rows = {
        name: OutstandingTokenFactory(token=text, expires_at=LONG_AGO)
        for name, text in texts.items()
    }

    summary = run()

    assert summary.undecodable == 3
    assert summary.outstanding_deleted == 4
    lines = log_lines(caplog)
    log = "\n".join(lines)
    for text in texts.values():
        assert text not in log
        for segment in text.split("."):
            assert len(segment) < 8 or segment not in log
    warnings = [line for line in lines if line.startswith("WARNING|")]
    assert sorted(warnings) == sorted(
        f"WARNING|outstanding token id={rows[name].pk} has no readable exp;"
        " judged by expires_at|{}|"
        for name in ("missing-exp", "not-a-jwt", "bad-json")
    )
    infos = [line for line in lines if line.startswith("INFO|")]
    # One summary line, as the guide tells operators to grep for it ("summary:").
    assert infos == [f"INFO|clean_blacklisted_tokens summary: {summary.as_dict()}|{{}}|"]
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
    assert claims["exp"] == 1771725599  # 2026-02-22 01:59:59 UTC, whole seconds
    assert claims["jti"] == row.jti
    assert claims["user_id"] == str(row.user_id)
    assert row.expires_at == utc(2026, 2, 22, 1, 59, 59)


def test_factory_rows_are_the_rows_simplejwt_login_and_logout_write() -> None:
    """What simplejwt writes (`for_user`, then `blacklist`), the factory writes the same."""
    user = UserFactory()
    with freeze_time(utc(2026, 2, 21, 1, 59, 59)):  # refresh tokens live one day
        issued = RefreshToken.for_user(user)
        issued.blacklist()
    written = OutstandingToken.objects.get(jti=issued[api_settings.JTI_CLAIM])

    made = OutstandingTokenFactory(user=user, exp=utc(2026, 2, 22, 1, 59, 59), blacklisted=True)

    def claims(row: OutstandingToken) -> dict:
        return jwt.decode(
            row.token,
            api_settings.SIGNING_KEY,
            algorithms=[api_settings.ALGORITHM],
            options={"verify_exp": False},
        ) | {"jti": None}

    assert claims(made) == claims(written)
    assert (made.user, made.created_at, made.expires_at) == (
        written.user,
        written.created_at,
        written.expires_at,
    )
    assert set(BlacklistedToken.objects.values_list("token_id", flat=True)) == {
        made.pk,
        written.pk,
    }
