"""Global safety fixtures only; domain fixtures live in the conftest.py of their folder."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from pytest_django.fixtures import Settings

from config.logs import configure_logging


@pytest.fixture(scope="session", autouse=True)
def _logs_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep test runs from writing into backend/logs.

    `settings.LOG_DIR` changes too: a worker started in-process sets Django up again, which
    reconfigures logging from the settings (config.logs.configure, LOGGING_CONFIG).
    """
    log_dir = tmp_path_factory.mktemp("logs")
    django_settings.LOG_DIR = log_dir
    django_settings.LOGGING = {**django_settings.LOGGING, "log_dir": log_dir}
    configure_logging(log_dir=log_dir, level="DEBUG", json_logs=False)
    return log_dir


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hasher() -> Iterator[None]:
    """MD5 for the session's passwords (pytest-django's `admin_user`, the API login tests).

    PBKDF2's million rounds cost about a second per hash. Set here rather than in a test
    settings module: DJANGO_SETTINGS_MODULE would name it to every subprocess a test starts.
    """
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session", autouse=True)
def _urlconf_loaded_before_any_frozen_clock() -> None:
    """Load the URLconf once, before any test freezes time.

    The URLconf imports DRF, which imports psycopg's C extension; a C extension first
    imported under freezegun sees FakeDate and raises a RuntimeWarning (an error here).
    Without this, a frozen test that makes the first request (or runs system checks)
    fails or passes depending on the test order.
    """
    from django.urls import get_resolver

    assert get_resolver().url_patterns


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Settings) -> Path:
    """Point GENERATED_MEDIA_ROOT at a fresh temporary folder, never the real one."""
    root = tmp_path / "generated_media"
    root.mkdir()
    settings.GENERATED_MEDIA_ROOT = root
    return root
