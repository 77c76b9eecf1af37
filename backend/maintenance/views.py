"""HTTP health check for uptime monitors and Kubernetes probes."""

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app
from maintenance.health import maintenance_health


@never_cache
@require_GET
def maintenance_health_view(request: HttpRequest) -> JsonResponse:
    """200 when every beat task succeeded recently enough, 503 when any is stale or never ran.

    No authentication, like any probe endpoint: it tells only task names and times.
    """
    report = maintenance_health(now=timezone.now(), beat_schedule=app.conf.beat_schedule)
    return JsonResponse(report.as_dict(), status=200 if report.healthy else 503)
