"""GET /api/health/maintenance/: the health report as JSON, 200 when OK and 503 when stale."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from tests.clock import utc
from tests.factories import record_success

URL = reverse("maintenance_health")
NOW = utc(2026, 3, 1, 12)

pytestmark = pytest.mark.django_db


def test_the_endpoint_lives_at_api_health_maintenance() -> None:
    assert URL == "/api/health/maintenance/"


def test_503_with_the_stale_tasks_before_any_run(client: Client) -> None:
    with freeze_time(NOW):
        response = client.get(URL)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "stale"
    assert body["checked_at"] == "2026-03-01T12:00:00+00:00"
    assert [(t["task"], t["status"], t["last_success"]) for t in body["tasks"]] == [
        ("clean_generated_media", "STALE", None),
        ("clean_blacklisted_tokens", "STALE", None),
    ]


def test_200_when_both_tasks_succeeded_within_their_period(client: Client) -> None:
    record_success("clean_generated_media", datetime(2026, 3, 1, 3, 0, 4, tzinfo=UTC))
    record_success("clean_blacklisted_tokens", datetime(2026, 3, 1, 2, 0, 2, tzinfo=UTC))
    with freeze_time(NOW):
        response = client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert [(t["task"], t["status"], t["last_success"], t["next_due"]) for t in body["tasks"]] == [
        ("clean_generated_media", "OK", "2026-03-01T03:00:04+00:00", "2026-03-08T03:00:00+00:00"),
        (
            "clean_blacklisted_tokens",
            "OK",
            "2026-03-01T02:00:02+00:00",
            "2026-03-02T02:00:00+00:00",
        ),
    ]


def test_503_when_one_task_is_stale_and_the_other_ok(client: Client) -> None:
    record_success("clean_generated_media", datetime(2026, 3, 1, 3, 0, 4, tzinfo=UTC))
    record_success("clean_blacklisted_tokens", datetime(2026, 2, 27, 2, 0, 2, tzinfo=UTC))
    with freeze_time(NOW):
        response = client.get(URL)
    assert response.status_code == 503
    statuses = {t["task"]: t["status"] for t in response.json()["tasks"]}
    assert statuses == {"clean_generated_media": "OK", "clean_blacklisted_tokens": "STALE"}


def test_the_answer_is_never_cached_and_needs_no_login(client: Client) -> None:
    response = client.get(URL)  # anonymous: probes do not log in
    assert response.status_code in (200, 503)
    assert "no-store" in response["Cache-Control"]


def test_only_get_is_allowed(client: Client) -> None:
    response = client.post(URL)
    assert response.status_code == 405
    assert response["Allow"] == "GET"
