"""A worker on the embedded broker stops quickly and cleanly (config/broker.py's
drain_events, config/celery.py's Ctrl-C exit status and final collection). The whole
path, `make run` stopped by a Ctrl-C in its terminal: tests/live/test_make_run.py.
"""

import contextlib
import gc
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery.apps import worker as celery_worker_app
from celery.platforms import EX_OK
from celery.worker import state
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.transport import filesystem
from kombu.transport.virtual import BrokerState

import config.celery

pytestmark = pytest.mark.timeout(30)  # a delivery that never comes fails, not hangs

JOBS = Queue("jobs", Exchange("jobs", type="direct"), routing_key="jobs")


@pytest.fixture
def connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Connection]:
    # A fresh per-process kombu state (tests/config/test_broker_expiry.py says why).
    monkeypatch.setattr(filesystem.Transport, "global_state", BrokerState())
    for sub in ("queue", "control"):
        (tmp_path / sub).mkdir()
    options = {
        "data_folder_in": str(tmp_path / "queue"),
        "data_folder_out": str(tmp_path / "queue"),
        "control_folder": str(tmp_path / "control"),
        "polling_interval": 0.05,
    }
    with Connection(
        "filesystem://", transport="config.broker:Transport", transport_options=options
    ) as conn:
        yield conn


def _drain(conn: Connection, timeout: float | None) -> tuple[list, float]:
    received: list = []
    consumer = Consumer(
        conn.default_channel,
        [JOBS],
        callbacks=[lambda body, msg: received.append(body)],
        no_ack=True,
    )
    with consumer:
        start = time.monotonic()
        with contextlib.suppress(TimeoutError):  # nothing came within the timeout
            conn.drain_events(timeout=timeout)
        return received, time.monotonic() - start


def test_a_waiting_message_is_delivered_with_or_without_a_timeout(connection: Connection) -> None:
    producer = Producer(connection.default_channel)
    producer.publish({"n": 1}, exchange=JOBS.exchange, routing_key="jobs", declare=[JOBS])
    assert _drain(connection, None)[0] == [{"n": 1}]
    producer.publish({"n": 2}, exchange=JOBS.exchange, routing_key="jobs")
    assert _drain(connection, 2.0)[0] == [{"n": 2}]


def test_with_nothing_to_deliver_it_waits_its_whole_timeout(connection: Connection) -> None:
    received, waited = _drain(connection, 0.3)
    assert received == []
    assert waited >= 0.3


def test_a_stopping_worker_stops_waiting_within_one_polling_interval(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "should_stop", EX_OK)  # what the Ctrl-C handler sets
    received, waited = _drain(connection, 30.0)
    assert received == []
    assert waited < 30.0  # one 0.05 s slice, not the 30 s asked for


def test_a_first_ctrl_c_asks_for_a_warm_shutdown_with_exit_0_and_arms_the_cold_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(state, "should_stop", None)
    monkeypatch.setattr(state, "should_terminate", None)
    before = signal.getsignal(signal.SIGINT)
    worker = SimpleNamespace(hostname="celery@test")
    try:
        celery_worker_app.install_worker_int_handler(worker)
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # the first Ctrl-C
        assert (state.should_stop, state.should_terminate) == (EX_OK, None)
        # Celery's cold shutdown (exit 1) now waits for a second Ctrl-C.
        assert signal.getsignal(signal.SIGINT).__name__ == "worker_Cold"
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_stopping_worker_freezes_its_objects_so_exit_skips_collecting_them() -> None:
    try:
        config.celery._skip_the_final_collection(sender=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
