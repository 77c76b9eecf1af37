"""Fixtures for the maintenance app's tests."""

from collections.abc import Iterator

import pytest

from config.celery import app


@pytest.fixture
def eager() -> Iterator[None]:
    """Run tasks in-process: `.delay()` executes at once and returns its result."""
    previous = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous
