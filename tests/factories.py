"""Model factories: users, simplejwt's tokens (one factory), and run-history rows.

A token row carries a real refresh JWT signed by simplejwt with the project's key, and
its `expires_at` is exactly the JWT's `exp`, as simplejwt's login writes it
(tests/maintenance/test_tokens.py compares the two). Pass `exp=<aware datetime>` to
choose when it expires, `blacklisted=True` for its BlacklistedToken row too, and
`token=` or `expires_at=` for the rows simplejwt never writes (bad text, columns that
disagree). `OutstandingTokenFactory.using(alias)` writes to another database.
"""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from maintenance.history import outcome_of, record_run
from maintenance.models import MaintenanceRun

DEFAULT_EXP = datetime(2026, 3, 10, 2, 0, 0, tzinfo=UTC)


def signed_refresh_token(*, user_id: object, jti: str, exp: datetime) -> str:
    """A refresh JWT signed by simplejwt's own backend, expiring at `exp` (whole seconds)."""
    token = RefreshToken()
    token.set_exp(from_time=exp, lifetime=timedelta(0))
    token.set_iat(at_time=exp - api_settings.REFRESH_TOKEN_LIFETIME)
    token[api_settings.JTI_CLAIM] = jti
    if user_id is not None:
        token[api_settings.USER_ID_CLAIM] = str(user_id)
    return str(token)


def whole_seconds(moment: datetime) -> datetime:
    """`moment` truncated to the second, as a JWT's integer `exp` stores it."""
    return datetime.fromtimestamp(int(moment.timestamp()), UTC)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = "!"  # an unusable password: no slow hashing per user


class OutstandingTokenFactory(DjangoModelFactory):
    class Meta:
        model = OutstandingToken
        skip_postgeneration_save = True

    class Params:
        exp = DEFAULT_EXP

    user = factory.SubFactory(UserFactory)
    jti = factory.LazyFunction(lambda: uuid4().hex)
    token = factory.LazyAttribute(
        lambda row: signed_refresh_token(
            user_id=row.user.pk if row.user else None, jti=row.jti, exp=row.exp
        )
    )
    created_at = factory.LazyAttribute(
        lambda row: whole_seconds(row.exp) - api_settings.REFRESH_TOKEN_LIFETIME
    )
    expires_at = factory.LazyAttribute(lambda row: whole_seconds(row.exp))

    @factory.post_generation
    def blacklisted(row: OutstandingToken, create: bool, extracted: bool, **kwargs: object) -> None:
        """`blacklisted=True`: its BlacklistedToken row too, in the row's own database."""
        if create and extracted:
            BlacklistedToken.objects.using(row._state.db).create(token=row)

    @classmethod
    def using(cls, alias: str) -> type["OutstandingTokenFactory"]:
        """This factory writing to the database behind `alias` (a live stack's)."""
        meta = type("Meta", (), {"database": alias})
        return type(f"OutstandingTokenFactory_{alias}", (cls,), {"Meta": meta})


def record_success(task: str, finished_at: datetime, **fields: object) -> MaintenanceRun:
    """Write a run-history row of a beat run that finished at `finished_at` (ok by default)."""
    return record_run(
        task=task,
        origin=fields.pop("origin", "beat"),
        dry_run=fields.pop("dry_run", False),
        started_at=finished_at - timedelta(seconds=5),
        finished_at=finished_at,
        summary=fields.pop("summary", {"completed": True}),
        **fields,
    )


class MaintenanceRunFactory(DjangoModelFactory):
    """A run-history row of a real beat run; `media=True` or `tokens=True` fills a summary
    shaped like that cleanup's, and `failed=True` makes a run that raised."""

    class Meta:
        model = MaintenanceRun

    class Params:
        duration = timedelta(seconds=5)
        media = factory.Trait(
            task="clean_generated_media",
            summary=factory.Dict(
                {
                    "root": "/srv/media",
                    "scanned": 400,
                    "deleted": 120,
                    "bytes_freed": 3 << 20,
                    "dirs_removed": 2,
                    "skipped": 0,
                    "errors": 0,
                    "dry_run": False,
                    "duration_s": 4.5,
                }
            ),
        )
        tokens = factory.Trait(
            task="clean_blacklisted_tokens",
            summary=factory.Dict(
                {
                    "scanned": 900,
                    "expired": 300,
                    "blacklisted_deleted": 100,
                    "outstanding_deleted": 300,
                    "undecodable": 0,
                    "dry_run": False,
                    "completed": True,
                    "duration_s": 4.5,
                }
            ),
        )
        failed = factory.Trait(
            outcome=MaintenanceRun.Outcome.FAILED,
            summary=None,
            error="Traceback (most recent call last):\nOperationalError: database is down",
        )

    task = "clean_generated_media"
    origin = MaintenanceRun.Origin.BEAT
    started_at = DEFAULT_EXP
    finished_at = factory.LazyAttribute(lambda run: run.started_at + run.duration)
    dry_run = False
    outcome = factory.LazyAttribute(lambda run: outcome_of(run.summary))
    summary = None
