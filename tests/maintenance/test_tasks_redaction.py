"""An exception raised inside a run leaves no JWT in what the task, the history, the command
and backend.log show of it: message, chained causes, notes and traceback.

The worker-side half (the result backend's stored exception and traceback, and what the
task_failure signal hands to events and Flower) runs in tests/live/test_inprocess.py.
"""

import traceback
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError
from loguru import logger

from config.logs import LOG_FILE_NAME
from maintenance import tasks
from maintenance.management.commands import clean_blacklisted_tokens as token_command
from maintenance.models import MaintenanceRun
from maintenance.redaction import REDACTED
from maintenance.tasks import clean_blacklisted_tokens
from tests.factories import signed_refresh_token

JWT = signed_refresh_token(user_id=7, jti="b" * 32, exp=datetime(2026, 3, 1, tzinfo=UTC))
PIECES = [piece[start : start + 12] for piece in JWT.split(".")[1:] for start in (0, 20, 40)]

pytestmark = pytest.mark.django_db


def assert_no_token_in(text: str) -> None:
    assert JWT not in text
    for piece in PIECES:
        assert piece not in text


def fail(error_type: type[Exception]) -> None:
    """Raise `error_type`, a JWT in its message, its cause and its note."""
    try:
        raise KeyError(f"jti of {JWT}")
    except KeyError as cause:
        error = error_type(f"cannot judge {JWT}")
        error.add_note(f"row holds {JWT}")
        raise error from cause


def cleanup_raising(error_type: type[Exception]):
    """A token cleanup that fails with `error_type` (see `fail`)."""
    return lambda **_arguments: fail(error_type)


@pytest.fixture
def backend_log(_logs_in_a_temporary_folder: Path) -> Path:
    """The session's backend.log (the root conftest points the logs at a temporary folder)."""
    return _logs_in_a_temporary_folder / LOG_FILE_NAME


def traceback_of(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


@pytest.mark.eager
@pytest.mark.usefixtures("eager")
def test_an_exception_inside_the_eager_task_carries_no_jwt_nor_does_its_history_row(
    monkeypatch: pytest.MonkeyPatch, backend_log: Path
) -> None:
    monkeypatch.setattr(tasks, "delete_expired_tokens", cleanup_raising(ValueError))

    with pytest.raises(ValueError, match=f"^cannot judge {REDACTED}") as raised:
        clean_blacklisted_tokens.delay()

    assert raised.value.args == (f"cannot judge {REDACTED}",)
    text = traceback_of(raised.value)
    assert_no_token_in(text)
    assert f"KeyError: 'jti of {REDACTED}'" in text
    assert f"row holds {REDACTED}" in text
    (run,) = MaintenanceRun.objects.all()
    assert run.outcome == "failed"
    assert f"ValueError: cannot judge {REDACTED}" in run.error
    assert_no_token_in(run.error)
    logger.complete()
    assert_no_token_in(backend_log.read_text())


@pytest.mark.eager
def test_the_eager_result_of_a_retried_then_failed_task_carries_no_jwt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Raised by the task's body before any run is recorded: the task class redacts it, and
    # autoretry hands it to Task.retry each time (eager retries run at once).
    retried = []
    monkeypatch.setattr(
        tasks, "recorded_run", lambda *_args, **_kwargs: retried.append(1) or fail(OperationalError)
    )

    result = clean_blacklisted_tokens.apply()

    assert len(retried) == 4  # the run and its 3 retries
    assert result.state == "FAILURE"
    assert isinstance(result.result, OperationalError)
    assert result.result.args == (f"cannot judge {REDACTED}",)
    assert_no_token_in(result.traceback)
    assert f"KeyError: 'jti of {REDACTED}'" in result.traceback


@pytest.mark.eager
def test_an_error_before_the_run_that_is_not_retried_carries_no_jwt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks, "recorded_run", lambda *_args, **_kwargs: fail(ValueError))

    result = clean_blacklisted_tokens.apply()

    assert (result.state, result.result.args) == ("FAILURE", (f"cannot judge {REDACTED}",))
    assert_no_token_in(result.traceback)
    assert MaintenanceRun.objects.count() == 0  # no run began: nothing recorded


def test_the_command_error_line_carries_no_jwt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(token_command, "delete_expired_tokens", cleanup_raising(OperationalError))

    with pytest.raises(CommandError) as raised:
        call_command("clean_blacklisted_tokens")

    assert str(raised.value) == (
        f"clean_blacklisted_tokens failed: database error: cannot judge {REDACTED}"
    )
    assert_no_token_in(traceback_of(raised.value))
    assert_no_token_in(capsys.readouterr().out)
