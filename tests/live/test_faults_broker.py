"""`celery call` when the broker cannot take the message: exit non-zero, nothing sent.

A refused connection (Redis, RabbitMQ) and a full disk under the embedded broker: the CLI
prints no task id, and the next message the broker carries is the only one to run.
"""

import os
import resource
import subprocess
from pathlib import Path

import pytest

from tests.live.conftest import OLD, file_with_mtime
from tests.live.faults_support import runs_of
from tests.live.processes import BACKEND_DIR, CELERY, free_port
from tests.live.stack import LiveStack

pytestmark = [pytest.mark.live, pytest.mark.faults, pytest.mark.timeout(90)]

EMBEDDED = pytest.param("embedded", id="embedded-broker")
RESULT_TIMEOUT_S = 60


def _celery_call(env: dict[str, str], **limits: int) -> subprocess.CompletedProcess:
    def set_limits() -> None:
        for name, value in limits.items():
            resource.setrlimit(getattr(resource, name), (value, value))

    return subprocess.run(
        [CELERY, "-A", "config", "call", "clean_generated_media"],
        cwd=BACKEND_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,  # a CLI that keeps retrying fails here instead of hanging the suite
        check=False,
        preexec_fn=set_limits if limits else None,
    )


@pytest.mark.parametrize(
    ("live_stack", "url", "error"),
    [
        pytest.param(
            "servers",
            "redis://127.0.0.1:{port}/0",
            "Error 111 connecting to 127.0.0.1:{port}. Connection refused.",
            marks=pytest.mark.servers,
            id="redis",
        ),
        pytest.param(
            "rabbitmq",
            "amqp://guest:guest@127.0.0.1:{port}//",
            "[Errno 111] Connection refused",
            marks=pytest.mark.servers,
            id="rabbitmq",
        ),
    ],
    indirect=["live_stack"],
)
def test_celery_call_with_the_broker_unreachable_exits_nonzero_and_sends_nothing(
    live_stack: LiveStack, url: str, error: str, django_db_blocker
) -> None:
    old = file_with_mtime(live_stack.media_root, "old.png", OLD)
    port = free_port()
    with django_db_blocker.unblock():
        runs_before = len(runs_of(live_stack.alias, "clean_generated_media"))

    done = _celery_call({**live_stack.env, "CELERY_BROKER_URL": url.format(port=port)})

    assert done.returncode == 1
    assert done.stdout == ""  # no task id: nothing claims to have been sent
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line == f"kombu.exceptions.OperationalError: {error.format(port=port)}"
    assert old.exists()
    # The real broker got nothing: the next message it carries is the only one to run.
    client = live_stack.client()
    client.send_task("clean_generated_media").get(timeout=RESULT_TIMEOUT_S, interval=0.05)
    client.close()
    assert not old.exists()
    with django_db_blocker.unblock():
        assert len(runs_of(live_stack.alias, "clean_generated_media")) == runs_before + 1


@pytest.mark.parametrize("live_stack", [EMBEDDED], indirect=True)
def test_celery_call_on_a_full_disk_fails_and_leaves_no_partial_message_in_the_queue(
    live_stack: LiveStack, tmp_path: Path
) -> None:
    # A file size limit makes the message write stop part-way, as a full disk does.
    # kombu's own filesystem transport ignored the short write, printed a task id, and
    # left a truncated file that stopped the next worker (config/broker.py).
    broker = tmp_path / "broker"
    env = {**live_stack.env, "CELERY_BROKER_FOLDER": str(broker), "LOG_DIR": str(tmp_path)}

    done = _celery_call(env, RLIMIT_FSIZE=512)  # a message is about 900 bytes

    assert done.returncode == 1
    assert done.stdout == ""
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line == (
        "kombu.exceptions.OperationalError: "
        f"cannot write a message to {broker / 'queue'}: File too large"
    )
    assert sorted(os.listdir(broker / "queue")) == []  # neither a message nor a partial file
