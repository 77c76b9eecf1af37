"""Delivery and retries of both tasks (maintenance/tasks.py).

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
DRAWS = 1000  # enough that every whole second up to the ceiling shows up


def countdowns(task, *, retries: int) -> set[float]:
    """The delays `task.retry` asks for after its `retries`-th retry, over many draws."""
    task.push_request(id="retried", retries=retries, is_eager=True, called_directly=False)
    try:
        return {task.retry(exc=OperationalError("down"), throw=False).when for _ in range(DRAWS)}
    finally:
        task.pop_request()


@pytest.mark.parametrize("task", TASKS)
def test_database_errors_are_retried_3_times(task) -> None:
    assert (task.autoretry_for, task.max_retries) == ((OperationalError, InterfaceError), 3)


@pytest.mark.parametrize(
    ("backoff", "retries", "ceiling"),
    [(5, 0, 5), (5, 1, 10), (5, 2, 20), (100, 2, 300)],
    ids=["first", "second", "third", "capped-at-5-min"],
)
def test_a_retry_waits_a_random_whole_second_up_to_the_doubled_backoff(
    settings, backoff: int, retries: int, ceiling: int
) -> None:
    settings.MAINTENANCE_RETRY_BACKOFF_S = backoff
    assert countdowns(tasks.clean_blacklisted_tokens, retries=retries) <= set(range(ceiling + 1))
    assert ceiling >= max(countdowns(tasks.clean_generated_media, retries=retries)) > ceiling / 2


def test_the_backoff_is_read_at_each_retry_and_0_retries_at_once(settings) -> None:
    settings.MAINTENANCE_RETRY_BACKOFF_S = 0
    assert countdowns(tasks.clean_blacklisted_tokens, retries=2) == {0}
    settings.MAINTENANCE_RETRY_BACKOFF_S = 1
    assert countdowns(tasks.clean_blacklisted_tokens, retries=2) == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("task", TASKS)
def test_message_is_acknowledged_after_the_run_and_redelivered_if_its_worker_dies(task) -> None:
    assert (task.acks_late, task.reject_on_worker_lost) == (True, True)


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3NzE3MjU2MDB9.c2lnbmF0dXJl"  # a token's shape


def test_a_retry_keeps_celerys_arguments_and_carries_no_jwt(settings) -> None:
    settings.MAINTENANCE_RETRY_BACKOFF_S = 5
    task = tasks.clean_blacklisted_tokens
    task.push_request(id="retried", retries=0, is_eager=True, called_directly=False)
    try:
        explicit = task.retry(exc=OperationalError("down"), countdown=42, throw=False)
        positional = task.retry((True,), exc=OperationalError(f"bad {JWT}"), throw=False)
        with pytest.raises(OperationalError, match=r"^last$"):
            task.retry(exc=OperationalError("last"), max_retries=0)
    finally:
        task.pop_request()
        # retry(max_retries=...) leaves override_max_retries on the task when it raises,
        # and autoretry would then give every later run in this process 0 retries.
        del task.override_max_retries
    assert explicit.when == 42
    assert positional.sig.args == (True,)
    assert positional.exc.args == ("bad <redacted-jwt>",)  # what a RETRY state would store
