"""MISCONFIGURED: a media run that found no root turns the health red, with the reason."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from config.celery import app
from maintenance.health import maintenance_health
from maintenance.tasks import clean_generated_media
from tests.clock import MEDIA_NOW
from tests.factories import record_success

NOW = MEDIA_NOW
LATER = NOW + timedelta(hours=1)

pytestmark = pytest.mark.django_db


def media_status(now: datetime) -> tuple[str, str]:
    report = maintenance_health(now=now, beat_schedule=app.conf.beat_schedule)
    media = next(task for task in report.tasks if task.task == "clean_generated_media")
    return media.status, media.reason


@pytest.mark.eager
@pytest.mark.usefixtures("eager")
def test_a_run_that_finds_no_root_makes_the_task_misconfigured_until_one_finds_it(
    media_root: Path,
) -> None:
    record_success("clean_generated_media", NOW - timedelta(days=1))  # fresh: would be OK
    media_root.rmdir()
    with freeze_time(NOW):
        summary = clean_generated_media.delay().get()
    assert summary["root_missing"] is True

    assert media_status(LATER) == (
        "MISCONFIGURED",
        f"GENERATED_MEDIA_ROOT {media_root} does not exist "
        "(run finished at 2026-03-01T03:00:00+00:00)",
    )
    media_root.mkdir()
    with freeze_time(LATER):
        clean_generated_media.delay(dry_run=True).get()  # a dry run knows the root too
    assert media_status(LATER) == (
        "OK",
        "last success 2026-03-01T03:00:00+00:00; stale after 2026-03-08T09:00:00+00:00",
    )


def test_the_endpoint_says_misconfigured_with_the_reason_and_answers_503(client: Client) -> None:
    record_success("clean_blacklisted_tokens", NOW)
    record_success(
        "clean_generated_media", NOW, summary={"root": "/srv/typo", "root_missing": True}
    )

    with freeze_time(LATER):
        response = client.get(reverse("maintenance_health"))

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "misconfigured"
    media, tokens = body["tasks"]
    assert (media["status"], media["reason"]) == (
        "MISCONFIGURED",
        "GENERATED_MEDIA_ROOT /srv/typo does not exist (run finished at 2026-03-01T03:00:00+00:00)",
    )
    assert tokens["status"] == "OK"
    assert tokens["reason"].startswith("last success 2026-03-01T03:00:00+00:00")


def test_the_health_command_exits_1_naming_the_reason() -> None:
    record_success("clean_blacklisted_tokens", NOW)
    record_success(
        "clean_generated_media", NOW, summary={"root": "/srv/typo", "root_missing": True}
    )

    with freeze_time(LATER), pytest.raises(CommandError) as raised:
        call_command("maintenance_health")

    assert str(raised.value) == (
        "periodic maintenance is misconfigured: clean_generated_media: GENERATED_MEDIA_ROOT "
        "/srv/typo does not exist (run finished at 2026-03-01T03:00:00+00:00)"
    )
    assert raised.value.returncode == 1
