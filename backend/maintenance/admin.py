"""A read-only admin for the run history: rows are written by runs, never by hand.

The list shows each run's figures in columns, and above it a chart of the last 90 days
of the runs the filters select (maintenance.history_chart), one per task.
"""

from datetime import UTC

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from maintenance.figures import RunFigures, figures_of, human_duration
from maintenance.history_chart import CHART_DAYS, chart_runs
from maintenance.models import MaintenanceRun

NOTHING = "—"


def _figures(run: MaintenanceRun) -> RunFigures:
    return figures_of(run.summary, started_at=run.started_at, finished_at=run.finished_at)


def _number(value: int | None) -> str:
    return NOTHING if value is None else f"{value:,}"


@admin.register(MaintenanceRun)
class MaintenanceRunAdmin(admin.ModelAdmin):
    # Compact cells (a short time, the origin's key, dry run inside the outcome, both token
    # counts in one column), so that every column fits at 1,280 px beside the sidebar.
    list_display = (
        "task_name",
        "started",
        "origin_key",
        "outcome_badge",
        "deleted_files",
        "bytes_freed",
        "tokens_deleted",
        "undecodable",
        "errors",
        "duration",
    )
    list_display_links = ("task_name",)
    list_filter = ("task", "beat_entry", "outcome", "origin", "dry_run")
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
        "beat_entry",
        "fire_time",
        "task_id",
    )

    @admin.display(description="task", ordering="task")
    def task_name(self, run: MaintenanceRun) -> str:
        """The name, breakable after each underscore."""
        return format_html_join(mark_safe("_<wbr>"), "{}", ((p,) for p in run.task.split("_")))

    @admin.display(description="started (UTC)", ordering="started_at")
    def started(self, run: MaintenanceRun) -> str:
        return f"{run.started_at.astimezone(UTC):%Y-%m-%d %H:%M}"

    @admin.display(description="origin", ordering="origin")
    def origin_key(self, run: MaintenanceRun) -> str:
        """'beat', 'task' or 'command'; the long label is the cell's tooltip."""
        return format_html('<span title="{}">{}</span>', run.get_origin_display(), run.origin)

    @admin.display(description="outcome", ordering="outcome")
    def outcome_badge(self, run: MaintenanceRun) -> str:
        return format_html(
            '<span class="run-badge run-badge-{}" title="{}">{}</span>{}',
            run.outcome,
            run.get_outcome_display(),
            run.outcome,
            mark_safe(' <span class="run-dry">dry run</span>') if run.dry_run else "",
        )

    @admin.display(description="files deleted")
    def deleted_files(self, run: MaintenanceRun) -> str:
        return _number(_figures(run).deleted_files)

    @admin.display(description="bytes freed")
    def bytes_freed(self, run: MaintenanceRun) -> str:
        freed = _figures(run).freed_bytes
        return NOTHING if freed is None else filesizeformat(freed)

    @admin.display(description="tokens deleted: blacklisted / outstanding")
    def tokens_deleted(self, run: MaintenanceRun) -> str:
        figures = _figures(run)
        if figures.blacklisted_deleted is None and figures.outstanding_deleted is None:
            return NOTHING
        return f"{_number(figures.blacklisted_deleted)} / {_number(figures.outstanding_deleted)}"

    @admin.display(description="undecod\u00adable")  # a soft hyphen: the header may wrap
    def undecodable(self, run: MaintenanceRun) -> str:
        return _number(_figures(run).undecodable)

    @admin.display(description="errors")
    def errors(self, run: MaintenanceRun) -> str:
        return _number(_figures(run).errors)

    @admin.display(description="duration")
    def duration(self, run: MaintenanceRun) -> str:
        return human_duration(_figures(run).duration_s)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        """The list, with the charts of the rows its filters select."""
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and "cl" in (response.context_data or {}):
            changelist = response.context_data["cl"]
            response.context_data["run_charts"] = chart_runs(
                changelist.queryset, now=timezone.now()
            )
            response.context_data["run_chart_days"] = CHART_DAYS
        return response

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
