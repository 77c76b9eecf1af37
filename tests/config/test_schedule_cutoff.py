"""The cutoff follows the frozen clock: each task, run at its fire time, judges 7 d ± 1 s.

The clock is frozen at the weekly fire time, Sunday 2026-03-01 03:00:00 UTC, and each
task runs eagerly through Celery. Files get literal mtimes; tokens are minted by
simplejwt's `RefreshToken.for_user` at literal frozen instants, so their `exp` is set by
simplejwt itself. Both cutoffs are strict: exactly 7 d old (or expired exactly at the
margin) is kept, one second more is deleted.
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from freezegun import freeze_time
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from maintenance.tasks import clean_blacklisted_tokens, clean_generated_media

pytestmark = [pytest.mark.eager, pytest.mark.django_db, pytest.mark.usefixtures("eager")]

FIRE_TIME = datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC)  # a Sunday: the weekly run


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def write_file(root: Path, name: str, mtime: datetime) -> Path:
    path = root / name
    path.write_bytes(b"x" * 10)
    ns = int(mtime.timestamp()) * 10**9
    os.utime(path, ns=(ns, ns))
    return path


def mint_blacklisted_refresh_token(username: str, *, at: datetime) -> int:
    """Log `username` in and out at the frozen instant `at`; return the token's `exp`."""
    user = get_user_model().objects.create_user(username=username)  # no password: no hashing
    with freeze_time(at):
        token = RefreshToken.for_user(user)
        token.blacklist()
    return token["exp"]


@pytest.mark.parametrize(
    ("mtime", "kept"),
    [
        pytest.param(utc(2026, 2, 22, 2, 59, 59), False, id="7d-1s-older-than-7d-deleted"),
        pytest.param(utc(2026, 2, 22, 3, 0, 0), True, id="exactly-7d-kept"),
        pytest.param(utc(2026, 2, 22, 3, 0, 1), True, id="1s-younger-than-7d-kept"),
    ],
)
def test_media_task_at_its_fire_time_judges_files_by_the_frozen_clock(
    media_root: Path, mtime: datetime, kept: bool
) -> None:
    judged = write_file(media_root, "judged.png", mtime)
    recent = write_file(media_root, "recent.png", utc(2026, 3, 1, 2, 0, 0))
    with freeze_time(FIRE_TIME):
        summary = clean_generated_media.delay().get()
    assert judged.exists() is kept
    assert recent.exists()
    assert (summary["scanned"], summary["deleted"]) == (2, 0 if kept else 1)


def test_media_cutoff_moves_with_the_clock(media_root: Path) -> None:
    """The same file, exactly 7 d old at 03:00:00, is gone at 03:00:01."""
    path = write_file(media_root, "edge.png", utc(2026, 2, 22, 3, 0, 0))
    with freeze_time(FIRE_TIME):
        first = clean_generated_media.delay().get()
    assert path.exists()
    with freeze_time(utc(2026, 3, 1, 3, 0, 1)):
        second = clean_generated_media.delay().get()
    assert not path.exists()
    assert (first["deleted"], second["deleted"]) == (0, 1)


@pytest.mark.parametrize(
    ("minted_at", "exp", "kept"),
    [
        # Refresh tokens live one day, so `exp` is the minting instant plus 1 d; the
        # cutoff at the fire time is 2026-03-01 03:00:00 - 7 d = 2026-02-22 03:00:00.
        pytest.param(
            utc(2026, 2, 21, 2, 59, 59),
            utc(2026, 2, 22, 2, 59, 59),
            False,
            id="expired-1s-before-cutoff-deleted",
        ),
        pytest.param(
            utc(2026, 2, 21, 3, 0, 0), utc(2026, 2, 22, 3, 0, 0), True, id="expired-at-cutoff-kept"
        ),
        pytest.param(
            utc(2026, 2, 21, 3, 0, 1),
            utc(2026, 2, 22, 3, 0, 1),
            True,
            id="expired-1s-after-cutoff-kept",
        ),
    ],
)
def test_token_task_at_its_fire_time_judges_tokens_by_the_frozen_clock(
    minted_at: datetime, exp: datetime, kept: bool
) -> None:
    lifetime = api_settings.REFRESH_TOKEN_LIFETIME
    assert lifetime == timedelta(days=1)
    judged_exp = mint_blacklisted_refresh_token("judged", at=minted_at)
    mint_blacklisted_refresh_token("recent", at=utc(2026, 2, 28, 12, 0, 0))
    assert judged_exp == int(exp.timestamp())
    with freeze_time(FIRE_TIME):
        summary = clean_blacklisted_tokens.delay().get()
    survivors = set(OutstandingToken.objects.values_list("user__username", flat=True))
    blacklisted = set(BlacklistedToken.objects.values_list("token__user__username", flat=True))
    expected = {"judged", "recent"} if kept else {"recent"}
    assert survivors == expected
    assert blacklisted == expected
    removed = 0 if kept else 1
    assert (summary["scanned"], summary["expired"]) == (2, removed)
    assert (summary["blacklisted_deleted"], summary["outstanding_deleted"]) == (removed, removed)
