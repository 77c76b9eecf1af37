"""URL routes: the admin, the JWT endpoints that fill the token tables, the health checks,
the Prometheus metrics."""

from django.contrib import admin
from django.urls import path
from health_check.views import HealthCheckView
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
)

from maintenance.views import maintenance_health_view, metrics_view

# django-health-check's probe URL: 200 or 500, JSON with ?format=json or Accept (docs/).
HEALTH_CHECKS = ["health_check.Database", "maintenance.health_checks.MaintenanceFreshness"]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/token/", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    path("api/auth/token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("api/auth/token/blacklist/", TokenBlacklistView.as_view(), name="token_blacklist"),
    path("health/", HealthCheckView.as_view(checks=HEALTH_CHECKS), name="health"),
    path("api/health/maintenance/", maintenance_health_view, name="maintenance_health"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus' default path
]
