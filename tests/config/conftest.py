"""Fixtures for the schedule's tests: eager tasks and a process time zone far from UTC."""

import os
import time
from collections.abc import Iterator

import pytest
import tzlocal
from celery.utils.time import timezone as celery_timezone

from config.celery import app


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
