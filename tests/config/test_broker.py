"""The embedded broker's transport sends a message whole or not at all (config/broker.py).

The end-to-end case, `celery call` hitting a file size limit part-way through a message,
is in tests/live/test_faults.py; here the transport runs in-process on a temporary folder.
"""

import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection
from kombu.exceptions import ChannelError
from kombu.transport import filesystem

from config import broker
from config.celery import app
from tests.os_view import OsView


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for sub in ("queue", "control", "processed"):
        (tmp_path / sub).mkdir()
    return tmp_path


def _connection(folder: Path, *, out: Path | None = None) -> Connection:
    return Connection(
        "filesystem://",
        transport="config.broker:Transport",
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(out or folder / "queue"),
            "control_folder": str(folder / "control"),
            "processed_folder": str(folder / "processed"),
        },
    )


@pytest.fixture
def connection(folder: Path) -> Iterator[Connection]:
    with _connection(folder) as conn:
        yield conn


def test_the_settings_choose_this_transport_and_leave_kombus_registry_alone() -> None:
    assert app.conf.broker_url == "filesystem://localhost//"
    with app.connection_for_write() as default:
        assert type(default.transport) is broker.Transport
    with Connection("filesystem://") as plain:  # kombu's own, as in any other program
        assert type(plain.transport) is filesystem.Transport


def test_sent_message_is_one_complete_file_that_a_consumer_reads_back(
    connection: Connection, folder: Path
) -> None:
    channel = connection.default_channel

    channel._put("jobs", {"body": "clean_generated_media", "n": 1})

    names = os.listdir(folder / "queue")
    assert len(names) == 1
    assert names[0].endswith(".jobs.msg")  # the name kombu's reader looks for
    assert channel._get("jobs") == {"body": "clean_generated_media", "n": 1}
    assert os.listdir(folder / "queue") == []


def test_failed_write_raises_naming_the_folder_and_leaves_no_file(
    connection: Connection, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    # The write got as far as it could; only the broker's own `os` sees the fault.
    monkeypatch.setattr(broker, "os", OsView(os, rename=disk_full))

    expected = f"cannot write a message to {folder / 'queue'}: No space left on device"
    with pytest.raises(ChannelError, match=re.escape(expected)):
        connection.default_channel._put("jobs", {"n": 1})

    assert os.listdir(folder / "queue") == []  # the temporary file is gone too


def test_missing_queue_folder_raises_instead_of_sending(folder: Path) -> None:
    missing = folder / "missing"
    expected = re.escape(f"cannot write a message to {missing}: No such file or directory")
    with _connection(folder, out=missing) as conn, pytest.raises(ChannelError, match=expected):
        conn.default_channel._put("jobs", {"n": 1})
    assert not missing.exists()
