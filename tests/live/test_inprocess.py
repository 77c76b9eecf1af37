"""Mode 2: a Celery worker thread inside the test process runs the tasks sent to it by name.

The classic `celery_session_app` / `celery_session_worker` fixtures (imported in
conftest.py) give a TestApp with an in-memory broker and result store, and a worker
thread on it. The worker
thread opens its own database connection, so the rows it must see are committed
(`transaction=True`): inside a test transaction they would be invisible to it.
"""

from pathlib import Path

import pytest
from celery import Celery
from celery.contrib.testing.worker import TestWorkController
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests.live.conftest import FAR_FUTURE, OLD, file_with_mtime, mint_refresh_token

pytestmark = [pytest.mark.inprocess, pytest.mark.timeout(60)]


@pytest.mark.django_db(transaction=True)
def test_worker_thread_runs_the_token_task_against_committed_rows(
    celery_session_app: Celery, celery_session_worker: TestWorkController
) -> None:
    expired = mint_refresh_token("default", exp=OLD, blacklisted=True)
    kept = mint_refresh_token("default", exp=FAR_FUTURE, blacklisted=True)

    summary = celery_session_app.send_task("clean_blacklisted_tokens").get(
        timeout=30, interval=0.05
    )

    assert (summary["scanned"], summary["expired"]) == (2, 1)
    assert (summary["blacklisted_deleted"], summary["outstanding_deleted"]) == (1, 1)
    assert not OutstandingToken.objects.filter(pk=expired.pk).exists()
    assert list(BlacklistedToken.objects.values_list("token__jti", flat=True)) == [kept.jti]


@pytest.mark.django_db(transaction=True)
def test_worker_thread_runs_the_media_task_on_the_configured_root(
    celery_session_app: Celery, celery_session_worker: TestWorkController, media_root: Path
) -> None:
    old = file_with_mtime(media_root, "old.png", OLD)
    young = file_with_mtime(media_root, "young.png", FAR_FUTURE)

    result = celery_session_app.send_task("clean_generated_media", kwargs={"dry_run": False})
    summary = result.get(timeout=30, interval=0.05)

    assert not old.exists()
    assert young.exists()
    assert (summary["deleted"], summary["bytes_freed"], summary["dry_run"]) == (1, 10, False)
    assert result.state == "SUCCESS"
