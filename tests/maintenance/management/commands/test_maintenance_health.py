"""`manage.py maintenance_health`: a table (or JSON), exit 1 when any task is stale."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from freezegun import freeze_time

from maintenance.management.commands.maintenance_health import Command
from tests.clock import utc
from tests.factories import record_success

NOW = utc(2026, 3, 1, 12)

pytestmark = pytest.mark.django_db


def test_before_any_run_it_prints_never_and_stale_and_fails() -> None:
    out = StringIO()
    with freeze_time(NOW), pytest.raises(CommandError) as raised:
        call_command("maintenance_health", stdout=out)
    assert raised.value.returncode == 1
    assert str(raised.value) == (
        "periodic maintenance is stale: clean_generated_media, clean_blacklisted_tokens"
    )
    assert out.getvalue().splitlines() == [
        "task                      last success  next due                   status",
        "clean_generated_media     never         2026-03-08T03:00:00+00:00  STALE",
        "clean_blacklisted_tokens  never         2026-03-02T02:00:00+00:00  STALE",
    ]


def test_the_process_exit_status_is_1_when_stale(capsys: pytest.CaptureFixture[str]) -> None:
    record_success("clean_generated_media", datetime(2026, 3, 1, 3, 0, 4, tzinfo=UTC))
    with freeze_time(NOW), pytest.raises(SystemExit) as exited:
        Command().run_from_argv(["manage.py", "maintenance_health"])
    assert exited.value.code == 1
    assert "periodic maintenance is stale: clean_blacklisted_tokens" in capsys.readouterr().err


def test_when_both_tasks_are_fresh_it_prints_ok_and_exits_0() -> None:
    record_success("clean_generated_media", datetime(2026, 3, 1, 3, 0, 4, tzinfo=UTC))
    record_success("clean_blacklisted_tokens", datetime(2026, 3, 1, 2, 0, 2, tzinfo=UTC))
    out = StringIO()
    with freeze_time(NOW):
        call_command("maintenance_health", stdout=out)  # no CommandError: exit status 0
    assert out.getvalue().splitlines()[1:] == [
        "clean_generated_media     2026-03-01T03:00:04+00:00  2026-03-08T03:00:00+00:00  OK",
        "clean_blacklisted_tokens  2026-03-01T02:00:02+00:00  2026-03-02T02:00:00+00:00  OK",
    ]


def test_json_output_is_the_same_report_as_the_endpoint() -> None:
    record_success("clean_generated_media", datetime(2026, 3, 1, 3, 0, 4, tzinfo=UTC))
    record_success("clean_blacklisted_tokens", datetime(2026, 2, 27, 2, 0, 2, tzinfo=UTC))
    out = StringIO()
    with freeze_time(NOW), pytest.raises(CommandError):
        call_command("maintenance_health", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["status"] == "stale"
    assert [(t["task"], t["status"], t["stale_after"]) for t in report["tasks"]] == [
        ("clean_generated_media", "OK", "2026-03-08T09:00:04+00:00"),
        ("clean_blacklisted_tokens", "STALE", "2026-02-28T08:00:02+00:00"),
    ]
