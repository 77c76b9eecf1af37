"""Delivery and retry options of both tasks (maintenance/tasks.py).

The behaviour they promise runs with real workers in tests/live/test_faults.py: a killed
pool process is redelivered, an unreachable database is retried 3 times, then fails.
"""

import pytest
from django.db import InterfaceError, OperationalError

from maintenance import tasks

TASKS = [
    pytest.param(tasks.clean_blacklisted_tokens, id="tokens"),
    pytest.param(tasks.clean_generated_media, id="media"),
]


@pytest.mark.parametrize("task", TASKS)
def test_database_errors_are_retried_3_times_after_up_to_5_10_and_20_seconds(task) -> None:
    assert task.autoretry_for == (OperationalError, InterfaceError)
    assert (task.max_retries, task.retry_backoff, task.retry_jitter) == (3, 5, True)
    assert task.default_retry_delay == 5  # never Celery's 3 minutes


@pytest.mark.parametrize("task", TASKS)
def test_message_is_acknowledged_after_the_run_and_redelivered_if_its_worker_dies(task) -> None:
    assert (task.acks_late, task.reject_on_worker_lost) == (True, True)
