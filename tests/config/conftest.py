"""Fixtures for the config tests: a process time zone far from UTC, a log folder of a test's own."""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tzlocal
from celery.utils.time import timezone as celery_timezone
from loguru import logger

from config.celery import app
from config.logs import configure_logging


def _forget_cached_time_zones() -> None:
    """Drop every time zone Celery cached, so the next read sees the process's TZ.

    `app.timezone`, Celery's `timezone.local`, tzlocal's answer and each crontab's `tz`
    are all computed once and kept; without this a zone read under one TZ would leak
    into a test run under another.
    """
    app.__dict__.pop("timezone", None)
    celery_timezone.__dict__.pop("local", None)
    tzlocal.reload_localzone()
    for entry in app.conf.beat_schedule.values():
        entry["schedule"].__dict__.pop("tz", None)
        entry["schedule"].__dict__.pop("utc_enabled", None)


@pytest.fixture
def process_tz(request: pytest.FixtureRequest) -> Iterator[str]:
    """Set the process time zone (TZ + time.tzset) to `request.param`; restore it after."""
    name: str = request.param
    previous = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    _forget_cached_time_zones()
    try:
        yield name
    finally:
        if previous is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = previous
        time.tzset()
        _forget_cached_time_zones()


@pytest.fixture
def log_dir(tmp_path: Path, _logs_in_a_temporary_folder: Path) -> Iterator[Path]:
    """A folder for the test's own `configure_logging`; the session's logging is back after."""
    yield tmp_path
    logger.complete()
    configure_logging(log_dir=_logs_in_a_temporary_folder, level="DEBUG", json_logs=False)
