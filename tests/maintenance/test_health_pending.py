"""A fresh deployment is not stale: a task that never ran is PENDING until its first fire
time after the system started, plus the 6 h grace, has passed (maintenance/health.py).

The system started when the maintenance app's first migration was applied; each test
moves that row of django_migrations to a literal time.
"""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from config.celery import app
from maintenance.health import maintenance_health, system_started_at
from tests.factories import record_success

# Deployed on a Sunday at noon: tokens first due Monday 02:00, media the next Sunday 03:00.
STARTED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TOKENS_PENDING_UNTIL = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
MEDIA_PENDING_UNTIL = datetime(2026, 3, 8, 9, 0, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def started() -> datetime:
    MigrationRecorder.Migration.objects.filter(app="maintenance").update(applied=STARTED)
    return STARTED


def _statuses(now: datetime) -> dict[str, str]:
    report = maintenance_health(now=now, beat_schedule=app.conf.beat_schedule)
    return {task.task: task.status for task in report.tasks}


def test_the_system_started_when_the_maintenance_tables_were_first_migrated() -> None:
    first = MigrationRecorder.Migration.objects.filter(app="maintenance").order_by("applied")
    first.exclude(pk=first.first().pk).update(applied=datetime(2026, 6, 1, tzinfo=UTC))
    assert system_started_at() == STARTED
    MigrationRecorder.Migration.objects.filter(app="maintenance").delete()
    assert system_started_at() is None


@pytest.mark.parametrize(
    ("checked_at", "tokens", "media"),
    [
        (STARTED, "PENDING", "PENDING"),
        (TOKENS_PENDING_UNTIL, "PENDING", "PENDING"),
        (datetime(2026, 3, 2, 8, 0, 1, tzinfo=UTC), "STALE", "PENDING"),
        (MEDIA_PENDING_UNTIL, "STALE", "PENDING"),
        (datetime(2026, 3, 8, 9, 0, 1, tzinfo=UTC), "STALE", "STALE"),
    ],
    ids=["at-start", "tokens-first-fire-plus-6h", "1s-later", "media-7d-later", "1s-later"],
)
def test_a_task_that_never_ran_is_pending_until_its_first_fire_plus_grace(
    checked_at: datetime, tokens: str, media: str
) -> None:
    assert _statuses(checked_at) == {
        "clean_generated_media": media,
        "clean_blacklisted_tokens": tokens,
    }


@pytest.mark.parametrize(
    ("fields", "status"),
    [({"dry_run": True}, "STALE"), ({"summary": {"completed": False}}, "STALE"), ({}, "OK")],
    ids=["dry-run", "partial", "real-run"],
)
def test_only_a_real_run_ends_pending_and_without_one_it_goes_stale(
    fields: dict, status: str
) -> None:
    record_success("clean_blacklisted_tokens", datetime(2026, 3, 2, 2, 0, 5, tzinfo=UTC), **fields)
    assert _statuses(datetime(2026, 3, 2, 3, 0, tzinfo=UTC))["clean_blacklisted_tokens"] == (
        "PENDING" if fields != {} else "OK"
    )
    assert (
        _statuses(datetime(2026, 3, 2, 8, 0, 1, tzinfo=UTC))["clean_blacklisted_tokens"] == status
    )


def test_without_a_recorded_start_a_task_that_never_ran_is_stale() -> None:
    MigrationRecorder.Migration.objects.filter(app="maintenance").delete()
    assert set(_statuses(STARTED).values()) == {"STALE"}


def test_the_endpoint_answers_200_pending_with_the_reason_on_a_fresh_deployment(
    client: Client,
) -> None:
    with freeze_time(datetime(2026, 3, 1, 12, 5, tzinfo=UTC)):
        response = client.get(reverse("maintenance_health"))
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["started_at"]) == ("pending", "2026-03-01T12:00:00+00:00")
    assert [(t["task"], t["status"], t["reason"]) for t in body["tasks"]] == [
        (
            "clean_generated_media",
            "PENDING",
            "never ran yet; stale if still so after 2026-03-08T09:00:00+00:00",
        ),
        (
            "clean_blacklisted_tokens",
            "PENDING",
            "never ran yet; stale if still so after 2026-03-02T08:00:00+00:00",
        ),
    ]


def test_pending_beside_ok_is_200_and_beside_stale_is_503(client: Client) -> None:
    record_success("clean_blacklisted_tokens", datetime(2026, 3, 2, 2, 0, 5, tzinfo=UTC))
    with freeze_time(datetime(2026, 3, 3, 6, 0, tzinfo=UTC)):
        response = client.get(reverse("maintenance_health"))
    assert (response.status_code, response.json()["status"]) == (200, "pending")
    with freeze_time(datetime(2026, 3, 4, 12, 0, tzinfo=UTC)):  # tokens: 1 d 6 h passed
        response = client.get(reverse("maintenance_health"))
    assert (response.status_code, response.json()["status"]) == (503, "stale")
    assert [t["reason"] for t in response.json()["tasks"]] == [
        "never ran yet; stale if still so after 2026-03-08T09:00:00+00:00",
        "last success 2026-03-02T02:00:05+00:00; stale after 2026-03-03T08:00:05+00:00",
    ]


def test_the_command_prints_pending_with_the_reason_and_exits_0() -> None:
    out = StringIO()
    with freeze_time(datetime(2026, 3, 1, 12, 5, tzinfo=UTC)):
        call_command("maintenance_health", stdout=out)  # no CommandError: exit status 0
    assert out.getvalue().splitlines() == [
        "task                      last success  next due                   status",
        "clean_generated_media     never         2026-03-08T03:00:00+00:00  PENDING",
        "clean_blacklisted_tokens  never         2026-03-02T02:00:00+00:00  PENDING",
        "clean_generated_media: never ran yet; stale if still so after 2026-03-08T09:00:00+00:00",
        "clean_blacklisted_tokens: never ran yet; stale if still so after "
        "2026-03-02T08:00:00+00:00",
    ]


def test_the_command_names_only_the_stale_task_when_the_other_is_pending() -> None:
    out = StringIO()
    with freeze_time(datetime(2026, 3, 3, 12, 0, tzinfo=UTC)), pytest.raises(CommandError) as err:
        call_command("maintenance_health", "--json", stdout=out)
    assert str(err.value) == "periodic maintenance is stale: clean_blacklisted_tokens"
    report = json.loads(out.getvalue())
    assert [(t["task"], t["status"]) for t in report["tasks"]] == [
        ("clean_generated_media", "PENDING"),
        ("clean_blacklisted_tokens", "STALE"),
    ]
    assert report["tasks"][1]["reason"] == "never succeeded since the system started"
