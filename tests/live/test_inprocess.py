"""Mode 2: a Celery worker thread inside the test process runs the tasks sent to it by name.

The classic `celery_app` / `celery_worker` fixtures (imported in conftest.py) give a
TestApp with an in-memory broker and result store, and a worker thread on it. Starting
it takes about a second, so one test covers both tasks. The worker
thread opens its own database connection, so the rows it must see are committed
(`transaction=True`): inside a test transaction they would be invisible to it.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from celery.contrib.testing.worker import TestWorkController
from celery.worker import state
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

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


@pytest.mark.django_db(transaction=True)
def test_worker_thread_runs_both_tasks_by_name_against_committed_rows_and_files(
    celery_app: Celery, celery_worker: TestWorkController, media_root: Path
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
