"""Django's debug page and error reports mask every setting that can carry a credential."""

import pytest
from django.conf import LazySettings
from django.test import Client
from django.views.debug import get_default_exception_reporter_filter

SECRETS = {
    "CELERY_BROKER_URL": "amqp://ops:broker-pass-4811@rabbit.internal:5672//",
    "CELERY_RESULT_BACKEND": "redis://:result-pass-7302@redis.internal:6379/4",
    "FLOWER_BASIC_AUTH": "ops:flower-pass-5120",
}
DATABASE_PASSWORD = "db-pass-9264"
DATABASE_URL = f"postgres://app:{DATABASE_PASSWORD}@db.internal:5432/app"
MASK = "********************"


@pytest.fixture
def debug_page(settings: LazySettings, client: Client, monkeypatch: pytest.MonkeyPatch) -> str:
    """Django's debug 400 page for a request with an unknown Host, secrets set everywhere.

    Under runserver the process environment is in request.META, so the request carries
    DATABASE_URL and the broker URL there too, as runserver's would.
    """
    settings.DEBUG = True
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    monkeypatch.setitem(settings.DATABASES["default"], "PASSWORD", DATABASE_PASSWORD)
    response = client.get(
        "/api/health/maintenance/",
        HTTP_HOST="attacker.example",
        DATABASE_URL=DATABASE_URL,
        CELERY_BROKER_URL=SECRETS["CELERY_BROKER_URL"],
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "DisallowedHost" in page  # the debug page, not the plain 400
    return page


def test_debug_page_shows_no_credential(debug_page: str) -> None:
    for secret in (*SECRETS.values(), DATABASE_URL, DATABASE_PASSWORD):
        assert secret not in debug_page
    for fragment in ("broker-pass-4811", "result-pass-7302", "flower-pass-5120", "db-pass-9264"):
        assert fragment not in debug_page


def test_debug_page_masks_each_credential_where_it_was(debug_page: str) -> None:
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "FLOWER_BASIC_AUTH", "DATABASE_URL"):
        assert f"<td>{name}</td>" in debug_page
    assert debug_page.count(MASK) >= 6  # 3 settings, 2 request variables, 1 database password
    assert "attacker.example" in debug_page  # the page is otherwise intact


def test_harmless_settings_stay_readable(settings: LazySettings) -> None:
    settings.LOG_LEVEL = "INFO"
    safe = get_default_exception_reporter_filter().get_safe_settings()

    assert safe["LOG_LEVEL"] == "INFO"
    assert safe["GENERATED_MEDIA_MAX_AGE_DAYS"] == settings.GENERATED_MEDIA_MAX_AGE_DAYS
    assert safe["CELERY_BROKER_URL"] == MASK
