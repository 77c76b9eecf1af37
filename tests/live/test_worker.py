"""Modes 3 and 4: a real `celery -A config worker` process runs the tasks sent to it by name.

Each test runs against the embedded broker (mode 3, no server) and, where the servers
answer, against Redis + PostgreSQL and against RabbitMQ (mode 4). The worker runs on the
real clock, so the data are dated far in the past (old) or far in the future (kept).
"""

import ast
import os
import subprocess

import pytest
from celery.exceptions import TaskRevokedError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests.live.conftest import FAR_FUTURE, OLD, file_with_mtime, mint_refresh_token
from tests.live.processes import BACKEND_DIR, CELERY, wait_for
from tests.live.stack import LiveStack

pytestmark = [pytest.mark.live, pytest.mark.timeout(90)]

EMBEDDED = pytest.param("embedded", id="embedded-broker")
SERVERS = pytest.param("servers", marks=pytest.mark.servers, id="redis+postgres")
RABBITMQ = pytest.param("rabbitmq", marks=pytest.mark.servers, id="rabbitmq")
RESULT_TIMEOUT_S = 30


def _seed_tokens(alias: str) -> dict[str, OutstandingToken]:
    return {
        "expired_blacklisted": mint_refresh_token(alias, exp=OLD, blacklisted=True),
        "expired_outstanding": mint_refresh_token(alias, exp=OLD, blacklisted=False),
        "live_blacklisted": mint_refresh_token(alias, exp=FAR_FUTURE, blacklisted=True),
    }


def _token_rows(alias: str) -> tuple[set[str], set[str]]:
    """(jti of every outstanding row, jti of every blacklisted row) in the worker's database."""
    outstanding = set(OutstandingToken.objects.using(alias).values_list("jti", flat=True))
    blacklisted = set(BlacklistedToken.objects.using(alias).values_list("token__jti", flat=True))
    return outstanding, blacklisted


TOKEN_SUMMARY = {
    "scanned": 3,
    "expired": 2,
    "blacklisted_deleted": 1,
    "outstanding_deleted": 2,
    "undecodable": 0,
    "dry_run": False,
    "completed": True,
    "stop_reason": "",
    "recorded": True,  # the worker wrote its history row
}


def _celery(stack: LiveStack, *args: str) -> str:
    """Run the real `celery -A config ...` CLI as an operator would, from backend/."""
    done = subprocess.run(
        [CELERY, "-A", "config", *args],
        cwd=BACKEND_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("live_stack", [EMBEDDED, SERVERS, RABBITMQ], indirect=True)
def test_media_task_sent_by_name_deletes_old_files_and_stores_its_summary(
    live_stack: LiveStack,
) -> None:
    root = live_stack.media_root
    old = file_with_mtime(root, "old.png", OLD)
    kept_by_name = file_with_mtime(root, ".gitkeep", OLD)
    young = file_with_mtime(root, "young.png", FAR_FUTURE)
    client = live_stack.client()

    result = client.send_task("clean_generated_media")
    summary = result.get(timeout=RESULT_TIMEOUT_S, interval=0.05)

    assert not old.exists()
    assert kept_by_name.exists()
    assert young.exists()
    assert summary["root"] == os.path.realpath(root)
    assert (summary["scanned"], summary["deleted"], summary["bytes_freed"]) == (3, 1, 10)
    assert (summary["errors"], summary["dry_run"]) == (0, False)
    # The result backend keeps the run, by name, as the worker that ran it reported it.
    stored = client.AsyncResult(result.id)
    assert (stored.state, stored.name, stored.worker) == (
        "SUCCESS",
        "clean_generated_media",
        live_stack.node,
    )
    assert stored.result == summary


@pytest.mark.parametrize("live_stack", [EMBEDDED, SERVERS, RABBITMQ], indirect=True)
def test_token_task_sent_by_name_deletes_expired_rows_in_the_workers_database(
    live_stack: LiveStack,
) -> None:
    tokens = _seed_tokens(live_stack.alias)
    client = live_stack.client()

    summary = client.send_task("clean_blacklisted_tokens").get(
        timeout=RESULT_TIMEOUT_S, interval=0.05
    )

    assert summary == {**TOKEN_SUMMARY, "duration_s": summary["duration_s"]}
    live_jti = tokens["live_blacklisted"].jti
    assert _token_rows(live_stack.alias) == ({live_jti}, {live_jti})


@pytest.mark.parametrize("live_stack", [EMBEDDED, SERVERS], indirect=True)
def test_dry_run_kwarg_reaches_the_worker_and_deletes_nothing(live_stack: LiveStack) -> None:
    tokens = _seed_tokens(live_stack.alias)
    old = file_with_mtime(live_stack.media_root, "old.png", OLD)
    client = live_stack.client()

    token_summary = client.send_task("clean_blacklisted_tokens", kwargs={"dry_run": True})
    media_summary = client.send_task("clean_generated_media", kwargs={"dry_run": True})

    assert token_summary.get(timeout=RESULT_TIMEOUT_S, interval=0.05) == {
        **TOKEN_SUMMARY,
        "blacklisted_deleted": 1,  # counted as "would delete"
        "dry_run": True,
        "duration_s": token_summary.result["duration_s"],
    }
    assert media_summary.get(timeout=RESULT_TIMEOUT_S, interval=0.05)["deleted"] == 1
    assert old.exists()
    every_jti = {token.jti for token in tokens.values()}
    blacklisted_jti = {tokens["expired_blacklisted"].jti, tokens["live_blacklisted"].jti}
    assert _token_rows(live_stack.alias) == (every_jti, blacklisted_jti)


# The CLI sends through the same code for every broker; one stack keeps its two
# interpreter start-ups (about 2 s each) to a minimum.
@pytest.mark.parametrize("live_stack", [EMBEDDED], indirect=True)
def test_celery_call_cli_runs_the_token_task_and_celery_result_prints_its_summary(
    live_stack: LiveStack,
) -> None:
    tokens = _seed_tokens(live_stack.alias)
    client = live_stack.client()

    task_id = _celery(live_stack, "call", "clean_blacklisted_tokens")
    summary = client.AsyncResult(task_id).get(timeout=RESULT_TIMEOUT_S, interval=0.05)
    printed = _celery(live_stack, "result", task_id)

    assert summary == {**TOKEN_SUMMARY, "duration_s": summary["duration_s"]}
    assert ast.literal_eval(printed) == summary
    live_jti = tokens["live_blacklisted"].jti
    assert _token_rows(live_stack.alias) == ({live_jti}, {live_jti})


@pytest.mark.parametrize("live_stack", [EMBEDDED, SERVERS], indirect=True)
def test_message_whose_expires_has_passed_is_revoked_and_deletes_nothing(
    live_stack: LiveStack,
) -> None:
    old = file_with_mtime(live_stack.media_root, "old.png", OLD)
    client = live_stack.client()

    result = client.send_task("clean_generated_media", expires=OLD)

    wait_for(
        lambda: client.AsyncResult(result.id).state == "REVOKED",
        timeout_s=RESULT_TIMEOUT_S,
        what="the expired message to be revoked",
    )
    with pytest.raises(TaskRevokedError):
        result.get(timeout=1, interval=0.05)
    assert old.exists()
    # The worker is still serving: the same task without `expires` runs and deletes.
    client.send_task("clean_generated_media").get(timeout=RESULT_TIMEOUT_S, interval=0.05)
    assert not old.exists()
