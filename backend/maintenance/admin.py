"""A read-only admin for the run history: rows are written by runs, never by hand."""

from django.contrib import admin
from django.http import HttpRequest

from maintenance.models import MaintenanceRun


@admin.register(MaintenanceRun)
class MaintenanceRunAdmin(admin.ModelAdmin):
    list_display = ("task", "started_at", "finished_at", "origin", "dry_run", "outcome")
    list_filter = ("task", "outcome", "origin", "dry_run")
    date_hierarchy = "started_at"
    search_fields = ("error",)
    readonly_fields = (
        "task",
        "origin",
        "started_at",
        "finished_at",
        "dry_run",
        "outcome",
        "summary",
        "error",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: MaintenanceRun | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: MaintenanceRun | None = None
    ) -> bool:
        return False
