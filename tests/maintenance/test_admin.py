"""The run-history admin is read-only: rows are written by runs, never by hand."""

from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory

from maintenance.history import record_run
from maintenance.models import MaintenanceRun

pytestmark = pytest.mark.django_db

STARTED = datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC)


@pytest.fixture
def run() -> MaintenanceRun:
    return record_run(
        task="clean_generated_media",
        origin="beat",
        dry_run=False,
        started_at=STARTED,
        finished_at=datetime(2026, 3, 1, 3, 0, 2, tzinfo=UTC),
        summary={"deleted": 4},
    )


def test_model_admin_grants_no_add_change_or_delete(
    admin_user: object, run: MaintenanceRun
) -> None:
    model_admin = admin.site._registry[MaintenanceRun]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    assert model_admin.has_view_permission(request, run)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, run)
    assert not model_admin.has_delete_permission(request, run)
    assert "delete_selected" not in model_admin.get_actions(request)


def test_superuser_can_list_and_read_a_run(admin_client: Client, run: MaintenanceRun) -> None:
    listing = admin_client.get("/admin/maintenance/maintenancerun/")
    detail = admin_client.get(f"/admin/maintenance/maintenancerun/{run.pk}/change/")
    assert listing.status_code == 200
    assert "clean_generated_media" in listing.content.decode()
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()  # no save button


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/maintenance/maintenancerun/add/"),
        ("post", "/admin/maintenance/maintenancerun/{pk}/change/"),
        ("get", "/admin/maintenance/maintenancerun/{pk}/delete/"),
        ("post", "/admin/maintenance/maintenancerun/{pk}/delete/"),
    ],
    ids=["add", "change", "delete-page", "delete-confirm"],
)
def test_even_a_superuser_cannot_write_through_the_admin(
    admin_client: Client, run: MaintenanceRun, method: str, path: str
) -> None:
    data = {"task": "forged", "outcome": "ok", "post": "yes"}
    response = getattr(admin_client, method)(path.format(pk=run.pk), data)
    assert response.status_code == 403
    run.refresh_from_db()
    assert (run.task, run.outcome, run.summary) == ("clean_generated_media", "ok", {"deleted": 4})
    assert MaintenanceRun.objects.count() == 1
