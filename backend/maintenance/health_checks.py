"""The freshness rule as a django-health-check check, served at /health/ (config/urls.py)."""

import dataclasses

from asgiref.sync import sync_to_async
from celery import current_app
from django.utils import timezone
from health_check import HealthCheck
from health_check.exceptions import ServiceUnavailable

from maintenance.health import maintenance_health
from maintenance.health_report import HealthReport


def current_report() -> HealthReport:
    """Every beat entry of the running app, judged now."""
    return maintenance_health(now=timezone.now(), beat_schedule=current_app.conf.beat_schedule)


@dataclasses.dataclass
class MaintenanceFreshness(HealthCheck):
    """Unavailable while any beat task is stale or misconfigured; a pending one is healthy."""

    async def run(self) -> None:
        # Thread-sensitive (the default): the ORM runs on the request's thread and connection.
        report = await sync_to_async(current_report)()
        if not report.healthy:
            raise ServiceUnavailable(report.problems())
