"""Helpers shared by the token tests: one run at the daily fire time, both tables, odd JWTs."""

import base64
import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import jwt
import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance.tokens import TokenCleanupSummary, delete_expired_tokens
from tests.clock import LONG_AGO, NEXT_MONTH, TOKENS_NOW, WEEK
from tests.factories import OutstandingTokenFactory
from tests.logs import from_the_app

MARGIN = WEEK


def run(**overrides: object) -> TokenCleanupSummary:
    arguments = {"now": TOKENS_NOW, "margin": MARGIN, "batch_size": 1000, "dry_run": False}
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


BLACKLIST_DELETE = f'DELETE FROM "{BlacklistedToken._meta.db_table}"'
BLACKLIST_COUNT = f'SELECT COUNT(*) FROM "{BlacklistedToken._meta.db_table}"'  # a dry run's
OUTSTANDING_DELETE = f'DELETE FROM "{OutstandingToken._meta.db_table}"'


@contextmanager
def before_each(
    statement: str, action: Callable[[int, list[int]], None], using: str = DEFAULT_DB_ALIAS
) -> Iterator[None]:
    """Call `action(n, ids)` before the n-th SQL statement that starts with `statement`.

    Django's `execute_wrapper` is the seam: the cleanup runs unpatched, and a fault or a
    concurrent write lands between two of its real statements. Statements the action runs
    itself are not counted.
    """
    counter, busy = itertools.count(1), []

    def wrapper(execute, sql, params, many, context):
        if sql.startswith(statement) and not busy:
            busy.append(True)
            try:
                action(next(counter), [int(pk) for pk in re.findall(r"\d+", str(params[0]))])
            finally:
                busy.pop()
        return execute(sql, params, many, context)

    with connections[using].execute_wrapper(wrapper):
        yield


def log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Each loguru line of the test as "LEVEL|message|extra|exception": where a leak could hide."""
    return [
        f"{r.levelname}|{r.getMessage()}|{r.extra}|{r.exc_info or ''}"
        for r in caplog.records
        if from_the_app(r)
    ]


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


def with_payload(raw: bytes) -> str:
    """A JWT-shaped string whose payload segment is `raw`, base64url-encoded."""
    return f"{HEADER}.{b64url(raw)}.{b64url(b'signature')}"


# A mixed table (the `twenty_tokens` fixture), one letter per token in pk order: E expired
# JWT, K kept JWT, U unreadable with expires_at long past, u unreadable with expires_at
# next month; "+" blacklisted.
TWENTY = [
    *("E+", "K", "E", "K+", "E+", "U+", "E", "K", "u", "E+"),
    *("E", "K+", "U", "E+", "K", "E", "u+", "E+", "K", "E"),
]
TWENTY_SUMMARY = summary_of(scanned=20, expired=12, blacklisted=6, undecodable=4)


def make_twenty() -> list[OutstandingToken]:
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
