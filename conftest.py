"""Global safety fixtures only; domain fixtures live in the conftest.py of their folder."""

from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from config.logs import configure_logging


@pytest.fixture(scope="session", autouse=True)
def _logs_in_a_temporary_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep test runs from writing into backend/logs."""
    log_dir = tmp_path_factory.mktemp("logs")
    configure_logging(log_dir=log_dir, level="DEBUG", json_logs=False)
    return log_dir


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Settings) -> Path:
    """Point GENERATED_MEDIA_ROOT at a fresh temporary folder, never the real one."""
    root = tmp_path / "generated_media"
    root.mkdir()
    settings.GENERATED_MEDIA_ROOT = root
    return root
