"""Mode 2: a Celery worker thread inside the test process runs the tasks sent to it by name.

The classic `celery_app` / `celery_worker` fixtures (imported in conftest.py) give a
TestApp with an in-memory broker and result store, and a worker thread on it. Starting
it takes about a second, so one test covers both tasks and a failing run. The worker
thread opens its own database connection, so the rows it must see are committed
(`transaction=True`): inside a test transaction they would be invisible to it.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from billiard.einfo import ExceptionInfo
from celery import Celery
from celery.contrib.testing.worker import TestWorkController
from celery.signals import task_failure
from celery.worker import state
from loguru import logger
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from config.logs import LOG_FILE_NAME
from maintenance import tasks
from maintenance.redaction import REDACTED
from tests.live.conftest import FAR_FUTURE, OLD, file_with_mtime, mint_refresh_token

pytestmark = [pytest.mark.inprocess, pytest.mark.timeout(60)]


@pytest.fixture
def celery_worker(celery_worker: TestWorkController) -> Iterator[TestWorkController]:
    """The classic worker thread, stopped in milliseconds instead of about 4 s.

    Its loop (celery/worker/loops.py `synloop`) waits up to 2 s for a message, checks the
    stop flag, and then waits once more before it leaves. The flag is raised here, before
    the classic fixture raises it and joins the thread, and two pings wake both waits.
    """
    yield celery_worker
    state.should_terminate = 0
    for _ in range(2):
        celery_worker.app.send_task("celery.ping")


@pytest.fixture
def session_log(_logs_in_a_temporary_folder: Path) -> Path:
    """backend.log of the session (the worker thread logs through the same loguru sinks)."""
    return _logs_in_a_temporary_folder / LOG_FILE_NAME


@pytest.mark.django_db(transaction=True)
def test_worker_thread_runs_both_tasks_by_name_and_stores_a_failure_without_its_jwt(
    celery_app: Celery,
    celery_worker: TestWorkController,
    media_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    session_log: Path,
) -> None:
    expired = mint_refresh_token("default", exp=OLD, blacklisted=True)
    kept = mint_refresh_token("default", exp=FAR_FUTURE, blacklisted=True)
    old = file_with_mtime(media_root, "old.png", OLD)
    young = file_with_mtime(media_root, "young.png", FAR_FUTURE)

    tokens = celery_app.send_task("clean_blacklisted_tokens").get(timeout=30, interval=0.05)
    media = celery_app.send_task("clean_generated_media", kwargs={"dry_run": False})
    media_summary = media.get(timeout=30, interval=0.05)

    assert (tokens["scanned"], tokens["expired"]) == (2, 1)
    assert (tokens["blacklisted_deleted"], tokens["outstanding_deleted"]) == (1, 1)
    assert not OutstandingToken.objects.filter(pk=expired.pk).exists()
    assert list(BlacklistedToken.objects.values_list("token__jti", flat=True)) == [kept.jti]
    assert not old.exists()
    assert young.exists()
    assert (media_summary["deleted"], media_summary["bytes_freed"]) == (1, 10)
    assert media_summary["dry_run"] is False
    assert media.state == "SUCCESS"

    _a_failure_stores_no_jwt(celery_app, monkeypatch, session_log)


def _a_failure_stores_no_jwt(
    celery_app: Celery, monkeypatch: pytest.MonkeyPatch, session_log: Path
) -> None:
    """A run that raises with a JWT in its message and cause: the result backend, the
    task_failure signal (what task-failed events and so Flower carry) and backend.log
    all get it redacted."""
    jwt = mint_refresh_token("default", exp=OLD, blacklisted=False).token

    def cleanup(**_arguments: object) -> None:
        raise ValueError(f"cannot judge {jwt}") from KeyError(jwt)

    monkeypatch.setattr(tasks, "delete_expired_tokens", cleanup)
    failures: list[str] = []  # what task-failed events (Flower) carry: repr and traceback

    def on_failure(exception: BaseException, einfo: ExceptionInfo, **_kwargs: object) -> None:
        failures.append(f"{exception!r}\n{einfo.traceback}")

    task_failure.connect(on_failure, weak=False)
    try:
        result = celery_app.send_task("clean_blacklisted_tokens")
        result.get(timeout=30, interval=0.05, propagate=False)
    finally:
        task_failure.disconnect(on_failure)

    assert result.state == "FAILURE", result.traceback
    assert result.result.args == (f"cannot judge {REDACTED}",), repr(result.result)
    stored = celery_app.backend.get(celery_app.backend.get_key_for_task(result.id))
    assert f"cannot judge {REDACTED}" in str(stored)  # the result backend's own record
    (failure,) = failures
    assert f"KeyError: '{REDACTED}'" in failure
    assert f"KeyError: '{REDACTED}'" in result.traceback
    logger.complete()
    log = session_log.read_text()
    assert f"raised unexpected: ValueError('cannot judge {REDACTED}')" in log
    for text in (str(stored), result.traceback, failure, log):
        for piece in jwt.split(".")[1:]:
            assert piece[:16] not in text
