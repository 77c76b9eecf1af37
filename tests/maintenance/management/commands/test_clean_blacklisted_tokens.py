"""`manage.py clean_blacklisted_tokens [--dry-run] [--json]`: a thin shell over one run."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from freezegun import freeze_time
from pytest_django.fixtures import Settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests.clock import TOKENS_NOW
from tests.factories import OutstandingTokenFactory

NOW = TOKENS_NOW  # the daily 02:00 UTC fire time
BEYOND_7_DAYS = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)  # expired long before the margin
WITHIN_7_DAYS = datetime(2026, 2, 28, 0, 0, 0, tzinfo=UTC)  # expired, well within it
BACKEND = Path(__file__).resolve().parents[4] / "backend"

pytestmark = pytest.mark.django_db


def run_command(*args: str) -> str:
    out = StringIO()
    with freeze_time(NOW):
        call_command("clean_blacklisted_tokens", *args, stdout=out)
    return out.getvalue()


def summary_of(**numbers: int | bool) -> dict:
    base = dict(scanned=3, expired=1, blacklisted_deleted=1, outstanding_deleted=1)
    base.update(undecodable=0, dry_run=False, completed=True, duration_s=0.0)  # frozen clock
    return base | {"stop_reason": "", "recorded": True} | numbers


@pytest.fixture
def three_tokens() -> dict[str, OutstandingToken]:
    return {
        "beyond": OutstandingTokenFactory(exp=BEYOND_7_DAYS, blacklisted=True),
        "within": OutstandingTokenFactory(exp=WITHIN_7_DAYS, blacklisted=True),
        "within-outstanding-only": OutstandingTokenFactory(exp=WITHIN_7_DAYS),
    }


def remaining() -> tuple[set[int], set[int]]:
    return (
        set(OutstandingToken.objects.values_list("pk", flat=True)),
        set(BlacklistedToken.objects.values_list("token_id", flat=True)),
    )


def test_json_flag_prints_one_json_object_and_deletes_beyond_the_margin(
    three_tokens: dict[str, OutstandingToken],
) -> None:
    out = run_command("--json")

    assert out.count("\n") == 1
    assert json.loads(out) == summary_of()
    within, only = three_tokens["within"].pk, three_tokens["within-outstanding-only"].pk
    assert remaining() == ({within, only}, {within})


def test_plain_output_is_one_aligned_line_per_summary_field(
    three_tokens: dict[str, OutstandingToken],
) -> None:
    out = run_command()

    assert out.splitlines() == [
        "scanned              3",
        "expired              1",
        "blacklisted_deleted  1",
        "outstanding_deleted  1",
        "undecodable          0",
        "dry_run              False",
        "completed            True",
        "duration_s           0.0",
        "stop_reason          ",
        "recorded             True",
    ]


def test_dry_run_flag_reports_the_same_counts_and_deletes_nothing(
    three_tokens: dict[str, OutstandingToken],
) -> None:
    before = remaining()

    out = run_command("--dry-run", "--json")

    assert json.loads(out) == summary_of(dry_run=True)
    assert remaining() == before


def test_margin_and_batch_size_come_from_settings(
    three_tokens: dict[str, OutstandingToken], settings: Settings
) -> None:
    settings.TOKEN_CLEANUP_SAFETY_MARGIN_DAYS = 0
    settings.TOKEN_CLEANUP_BATCH_SIZE = 1

    out = run_command("--json")

    assert json.loads(out) == summary_of(expired=3, blacklisted_deleted=2, outstanding_deleted=3)
    assert remaining() == (set(), set())


def test_a_database_error_exits_non_zero_with_one_line_on_stderr(tmp_path: Path) -> None:
    """A real database error: the command runs against a database with no tables."""
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}",
        "LOG_DIR": str(tmp_path / "logs"),
        "LOG_LEVEL": "CRITICAL",
        "DJANGO_SECRET_KEY": "a-test-key-so-settings-do-not-warn",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "clean_blacklisted_tokens", "--json"],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "CommandError: clean_blacklisted_tokens failed: database error:"
        " no such table: token_blacklist_outstandingtoken\n"
    )
