"""The embedded broker honours queue expiry (`x-expires`) across processes (config/broker.py).

Each Connection here stands for one process (its own transport and channels; the folder is
shared, as between a worker and Flower; kombu's in-memory state is per process, so these
share it). Time is the module's
`time`, replaced by a clock the test moves; the soak test with real processes and real
time is tests/live/test_broker_soak.py.
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Producer, Queue
from kombu.transport import filesystem
from kombu.transport.virtual import BrokerState

from config import broker

START = 1_800_000_000.0  # any fixed epoch second
EVENTS = Exchange("celeryev", type="topic")
CONTROL = Exchange("celery.pidbox", type="fanout")
REPLIES = Exchange("reply.celery.pidbox", type="direct")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(broker, "time", clock)
    return clock


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for sub in ("queue", "control", "processed"):
        (tmp_path / sub).mkdir()
    return tmp_path


@pytest.fixture
def process(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Open connections ("processes") on the shared folder; all closed at the end.

    kombu keeps the filesystem transport's declared exchanges and bindings in one state per
    process (`filesystem.Transport.global_state`): each test starts on a fresh one, as a
    new process would, whatever other tests in this process declared.
    """
    monkeypatch.setattr(filesystem.Transport, "global_state", BrokerState())
    opened: list[Connection] = []

    def open_process() -> Connection:
        conn = Connection(
            "filesystem://",
            transport="config.broker:Transport",
            transport_options={
                "data_folder_in": str(folder / "queue"),
                "data_folder_out": str(folder / "queue"),
                "control_folder": str(folder / "control"),
            },
        )
        opened.append(conn)
        return conn

    yield open_process
    for conn in opened:
        conn.release()


def bound(folder: Path, exchange: str) -> list[str]:
    """The queues bound in `<exchange>.exchange`, as another process would read them."""
    table = folder / "control" / f"{exchange}.exchange"
    return sorted(queue for _key, _pattern, queue in json.loads(table.read_text()))


def messages(folder: Path) -> list[str]:
    return sorted(name.split(".", 1)[1] for name in os.listdir(folder / "queue"))


def poll(conn: Connection, queue: str) -> dict | None:
    """One poll of `queue` by its consumer, as a worker's or Flower's drain loop does."""
    message = conn.default_channel.basic_get(queue, no_ack=True)
    return None if message is None else message.payload


def publish(conn: Connection, exchange: Exchange, routing_key: str = "") -> None:
    Producer(conn.default_channel).publish({"n": 1}, exchange=exchange, routing_key=routing_key)


def listen(conn: Connection, name: str, exchange: Exchange, expires: float | None) -> Queue:
    queue = Queue(
        name, exchange, routing_key=name if exchange.type == "direct" else "#", expires=expires
    )
    queue(conn.default_channel).declare()
    return queue


def test_a_queue_nobody_polls_for_its_expiry_is_unbound_and_emptied_and_gets_nothing_more(
    process, folder: Path, clock: Clock
) -> None:
    worker, flower = process(), process()
    listen(flower, "celeryev.dead", EVENTS, expires=60)
    publish(worker, EVENTS, "worker.heartbeat")  # Flower is still polling: delivered
    assert messages(folder) == ["celeryev.dead.msg"]

    clock.now = START + 59.9  # Flower was killed at START: no poll since
    publish(worker, EVENTS, "worker.heartbeat")
    assert messages(folder) == ["celeryev.dead.msg"] * 2
    assert bound(folder, "celeryev") == ["celeryev.dead"]

    clock.now = START + 60.1
    publish(worker, EVENTS, "worker.heartbeat")

    assert messages(folder) == []  # nothing written, and what was waiting is dropped
    assert bound(folder, "celeryev") == []
    assert sorted(os.listdir(folder / "control")) == ["celeryev.exchange"]  # lease gone too


def test_a_polling_consumer_keeps_its_queue_for_longer_than_its_expiry(
    process, folder: Path, clock: Clock
) -> None:
    worker, flower = process(), process()
    listen(flower, "celeryev.live", EVENTS, expires=60)
    listen(worker, "celeryev.dead", EVENTS, expires=60)
    for second in range(0, 600, 10):  # ten minutes of polls every 10 s
        clock.now = START + second
        assert poll(flower, "celeryev.live") is None
        publish(worker, EVENTS, "worker.heartbeat")
        assert poll(flower, "celeryev.live") == {"n": 1}

    assert bound(folder, "celeryev") == ["celeryev.live"]
    assert messages(folder) == []


def test_a_poll_within_a_quarter_of_the_expiry_does_not_touch_the_lease(
    process, folder: Path, clock: Clock
) -> None:
    flower = process()
    listen(flower, "celeryev.live", EVENTS, expires=60)
    lease = folder / "control" / "celeryev.live.lease"
    assert lease.stat().st_mtime == START + 60  # the mtime is the deadline

    clock.now = START + 14.9
    poll(flower, "celeryev.live")
    assert lease.stat().st_mtime == START + 60

    clock.now = START + 15
    poll(flower, "celeryev.live")
    assert lease.stat().st_mtime == START + 75


def test_a_queue_declared_without_expiry_is_never_unbound(
    process, folder: Path, clock: Clock
) -> None:
    worker, client = process(), process()
    listen(worker, "celery", Exchange("celery", type="direct"), expires=None)

    clock.now = START + 365 * 86400
    publish(client, Exchange("celery", type="direct"), "celery")

    assert bound(folder, "celery") == ["celery"]
    assert messages(folder) == ["celery.msg"]
    assert poll(worker, "celery") == {"n": 1}


def test_a_consumer_back_after_its_queue_expired_binds_it_again(
    process, folder: Path, clock: Clock
) -> None:
    worker, client = process(), process()
    listen(worker, "w1.celery.pidbox", CONTROL, expires=10)
    clock.now = START + 3600  # the laptop slept; a ping arrives before the worker polls
    publish(client, CONTROL)
    assert bound(folder, "celery.pidbox") == []
    assert messages(folder) == []

    assert poll(worker, "w1.celery.pidbox") is None  # awake: its poll binds it again
    publish(client, CONTROL)

    assert bound(folder, "celery.pidbox") == ["w1.celery.pidbox"]
    assert poll(worker, "w1.celery.pidbox") == {"n": 1}
    assert (folder / "control" / "w1.celery.pidbox.lease").stat().st_mtime == START + 3610


def test_a_reply_for_an_expired_reply_queue_is_not_written(
    process, folder: Path, clock: Clock
) -> None:
    worker, inspect = process(), process()
    listen(inspect, "killed.reply.celery.pidbox", REPLIES, expires=10)
    listen(inspect, "live.reply.celery.pidbox", REPLIES, expires=10)
    clock.now = START + 10.5
    poll(inspect, "live.reply.celery.pidbox")

    publish(worker, REPLIES, "killed.reply.celery.pidbox")
    publish(worker, REPLIES, "live.reply.celery.pidbox")

    assert messages(folder) == ["live.reply.celery.pidbox.msg"]
    assert bound(folder, "reply.celery.pidbox") == ["live.reply.celery.pidbox"]


def test_deleting_a_queue_drops_its_lease_with_its_last_binding(
    process, folder: Path, clock: Clock
) -> None:
    flower = process()
    channel = flower.default_channel
    queue = listen(flower, "celeryev.two", EVENTS, expires=60)
    Queue("celeryev.two", CONTROL, expires=60)(channel).declare()
    lease = folder / "control" / "celeryev.two.lease"

    channel._delete("celeryev.two", "celeryev", "#", "")
    assert lease.exists()  # still bound to celery.pidbox
    assert bound(folder, "celery.pidbox") == ["celeryev.two"]

    queue(channel).delete()
    assert not lease.exists()
    assert bound(folder, "celery.pidbox") == bound(folder, "celeryev") == []
