"""The embedded broker stays small and the idle worker stays idle while event listeners
and pings come and die (config/broker.py's queue expiry, with real processes and time).

Longer runs, and the same on a checkout without the expiry: scripts/broker_soak.py.
"""

from pathlib import Path

import pytest

from tests.live.processes import ProcessRegistry, wait_for
from tests.live.soak_support import (
    bindings,
    broker_files,
    idle_cpu_share,
    ping,
    soak_env,
    start_and_kill,
    start_worker,
)

pytestmark = [pytest.mark.live, pytest.mark.soak, pytest.mark.timeout(60)]

ROUNDS, LISTENERS, PINGS = 2, 4, 3
EVENT_EXPIRES_S = CONTROL_EXPIRES_S = 1
# Exchange tables (4), the worker's and the live queues' leases, and the messages of up to
# one expiry of heartbeats (every 2 s) for each listener killed in the last round.
MAX_FILES = 4 + 2 + LISTENERS * 2


def test_killed_listeners_and_pings_leave_no_binding_and_the_idle_worker_idles(
    live_processes: ProcessRegistry, tmp_path: Path
) -> None:
    env = soak_env(tmp_path, event_expires_s=EVENT_EXPIRES_S, control_expires_s=CONTROL_EXPIRES_S)
    worker = start_worker(live_processes, tmp_path, env)
    worker_queues = {
        "celery": ["celery"],
        "celeryev": [],
        "celery.pidbox": ["soak@localhost.celery.pidbox"],
        "reply.celery.pidbox": [],
    }

    # Dead event queues go at the next heartbeat after their expiry; dead reply queues at
    # the next reply the worker sends (this ping's).
    def settled() -> bool:
        assert "pong" in ping(tmp_path, env)
        return bindings(tmp_path) == worker_queues

    try:
        for _ in range(ROUNDS):
            start_and_kill(
                live_processes,
                tmp_path,
                env,
                argv=["events", "--dump"],
                exchange="celeryev",
                count=LISTENERS,
            )
            start_and_kill(
                live_processes,
                tmp_path,
                env,
                argv=["inspect", "ping", "--timeout=30"],
                exchange="reply.celery.pidbox",
                count=PINGS,
            )
            # Every round ends back at the same small folder: nothing piles up. (A count
            # taken mid-round depends on how long the killed processes took to start.)
            wait_for(settled, timeout_s=15, what="every dead binding to go")
            assert broker_files(tmp_path) <= MAX_FILES
        assert idle_cpu_share(worker, window_s=3.0) < 0.01
    finally:
        live_processes.stop(worker, grace_s=5)
