"""Flower as operators run it: `celery -A config flower`, configured by backend/flowerconfig.py.

End to end on the embedded stack (mode 3): authentication on the API, the tasks it saw
with their summaries, the loopback-only bind, the Prometheus metrics. The loopback-or-auth
rule from other folders and option sources: tests/live/test_flower_guard.py.
"""

import ast

import psutil
import pytest

from tests.live.conftest import OLD, file_with_mtime, mint_refresh_token
from tests.live.processes import FlowerProcess, wait_for
from tests.live.stack import LiveStack

EMBEDDED = pytest.param("embedded", id="embedded-broker")


def _worker_online(flower: FlowerProcess, node: str) -> bool:
    """Flower has received the worker's heartbeat events (its /metrics gauge says so)."""
    status, body = flower.get("/metrics")
    return status == 200 and f'flower_worker_online{{worker="{node}"}} 1.0' in body.decode()


@pytest.mark.live
@pytest.mark.timeout(90)
@pytest.mark.parametrize("live_stack", [EMBEDDED], indirect=True)
def test_flower_api_needs_credentials_and_lists_the_tasks_it_saw_with_their_summaries(
    live_stack: LiveStack, flower: FlowerProcess
) -> None:
    wait_for(
        lambda: _worker_online(flower, live_stack.node),
        timeout_s=30,
        what="flower to see the worker's heartbeat",
    )
    file_with_mtime(live_stack.media_root, "old.png", OLD)
    mint_refresh_token(live_stack.alias, exp=OLD, blacklisted=True)
    client = live_stack.client()
    sent = {
        name: client.send_task(name)
        for name in ("clean_generated_media", "clean_blacklisted_tokens")
    }
    summaries = {name: result.get(timeout=30, interval=0.05) for name, result in sent.items()}

    for path in ("/api/tasks", "/api/workers"):
        assert flower.get(path)[0] == 401
        assert flower.get(path, auth=(flower.user, "wrong-password"))[0] == 401

    def seen_succeeded() -> dict | None:
        tasks = flower.api("/api/tasks")
        mine = {result.id: tasks.get(result.id) for result in sent.values()}
        if all(task and task["state"] == "SUCCESS" for task in mine.values()):
            return mine
        return None

    seen = wait_for(seen_succeeded, timeout_s=30, what="flower to see both tasks succeed")
    for name, result in sent.items():
        task = seen[result.id]
        assert task["name"] == name
        assert task["worker"] == live_stack.node
        assert ast.literal_eval(task["result"]) == summaries[name]
    assert summaries["clean_generated_media"]["deleted"] == 1
    assert summaries["clean_blacklisted_tokens"]["outstanding_deleted"] == 1
    assert live_stack.node in flower.api("/api/workers?refresh=1")


@pytest.mark.live
@pytest.mark.timeout(60)
def test_flower_binds_loopback_only_by_default_and_serves_prometheus_metrics(
    flower: FlowerProcess,
) -> None:
    listening = {
        (conn.laddr.ip, conn.laddr.port)
        for conn in psutil.Process(flower.process.pid).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    }
    assert listening == {("127.0.0.1", flower.port)}
    status, body = flower.get("/metrics")  # no credentials: Flower serves it unauthenticated
    assert status == 200
    assert b"flower_events_total" in body
