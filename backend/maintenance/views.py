"""HTTP endpoints for monitoring: the maintenance health report and Prometheus metrics.

The probe URL, /health/, is django-health-check's view (config/urls.py) over the same rule.
"""

from celery import current_app as app  # the project's app (config/celery.py)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from maintenance.health_checks import current_report
from maintenance.metrics import RunHistoryCollector, registry_for


@never_cache
@require_GET
def maintenance_health_view(request: HttpRequest) -> JsonResponse:
    """The report of every beat entry: 200 when each is OK or pending, 503 otherwise.

    No authentication, like any probe endpoint: it tells only task names and times.
    """
    report = current_report()
    return JsonResponse(report.as_dict(), status=200 if report.healthy else 503)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics of maintenance, computed from the run history at each scrape.

    No authentication, like Flower's /metrics: it tells task names, times and counts, no
    secret. Serve it only to the scraper's network (README, "Prometheus metrics").
    """
    collector = RunHistoryCollector(
        clock=timezone.now, beat_schedule=lambda: app.conf.beat_schedule
    )
    return HttpResponse(generate_latest(registry_for(collector)), content_type=CONTENT_TYPE_LATEST)
