"""GET /health/: django-health-check's view over the freshness rule and the database."""

from datetime import UTC, datetime

import pytest
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from maintenance.models import MaintenanceRun
from tests.clock import utc
from tests.factories import record_success

URL = reverse("health")
NOW = utc(2026, 3, 1, 12)
DATABASE, FRESHNESS = "Database(alias='default')", "MaintenanceFreshness()"

pytestmark = pytest.mark.django_db


def _get(client: Client, **headers: str) -> tuple[int, dict]:
    query = {} if headers else {"format": "json"}
    with freeze_time(NOW):
        response = client.get(URL, query, headers=headers)
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_the_probe_url_is_health() -> None:
    assert URL == "/health/"


@pytest.mark.parametrize("headers", [{}, {"accept": "application/json"}], ids=["query", "accept"])
def test_200_with_every_check_ok_when_both_tasks_succeeded_in_their_period(
    client: Client, headers: dict[str, str]
) -> None:
    record_success("clean_generated_media", datetime(2026, 3, 1, 3, 0, 4, tzinfo=UTC))
    record_success("clean_blacklisted_tokens", datetime(2026, 3, 1, 2, 0, 2, tzinfo=UTC))
    assert _get(client, **headers) == (200, {DATABASE: "OK", FRESHNESS: "OK"})
    assert MaintenanceRun.objects.count() == 2  # a probe reads the history, writes nothing


def test_500_naming_each_stale_task_and_why_before_any_run(client: Client) -> None:
    assert _get(client) == (
        500,
        {
            DATABASE: "OK",
            FRESHNESS: "Unavailable: clean_generated_media STALE: never succeeded since the "
            "system started; clean_blacklisted_tokens STALE: never succeeded since the "
            "system started",
        },
    )


def test_500_names_only_the_stale_task_when_the_other_is_ok(client: Client) -> None:
    record_success("clean_generated_media", datetime(2026, 3, 1, 3, 0, 4, tzinfo=UTC))
    record_success("clean_blacklisted_tokens", datetime(2026, 2, 27, 2, 0, 2, tzinfo=UTC))
    assert _get(client) == (
        500,
        {
            DATABASE: "OK",
            FRESHNESS: "Unavailable: clean_blacklisted_tokens STALE: last success "
            "2026-02-27T02:00:02+00:00; stale after 2026-02-28T08:00:02+00:00",
        },
    )


def test_500_with_the_reason_when_the_media_root_is_missing(client: Client) -> None:
    record_success("clean_blacklisted_tokens", NOW)
    record_success(
        "clean_generated_media", NOW, summary={"root": "/srv/typo", "root_missing": True}
    )
    assert _get(client)[1][FRESHNESS] == (
        "Unavailable: clean_generated_media MISCONFIGURED: GENERATED_MEDIA_ROOT /srv/typo "
        "does not exist (run finished at 2026-03-01T12:00:00+00:00)"
    )


def test_a_fresh_deployment_is_pending_and_so_healthy(client: Client) -> None:
    MigrationRecorder.Migration.objects.filter(app="maintenance").update(applied=NOW)
    assert _get(client) == (200, {DATABASE: "OK", FRESHNESS: "OK"})
    assert not MaintenanceRun.objects.exists()


def test_the_html_page_for_a_browser_says_the_same(client: Client) -> None:
    with freeze_time(NOW):
        response = client.get(URL, headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "clean_blacklisted_tokens STALE" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
