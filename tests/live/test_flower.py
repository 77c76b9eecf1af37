"""Flower as operators run it: `celery -A config flower`, configured by backend/flowerconfig.py.

End to end on the embedded stack (mode 3): authentication on the API, the tasks it saw
with their summaries, the loopback-only bind, the Prometheus metrics. And the hardening:
a non-loopback bind without authentication refuses to start.
"""

import ast
import importlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import psutil
import pytest
from tornado.options import options as tornado_options

from tests.live.conftest import OLD, file_with_mtime, mint_refresh_token
from tests.live.stack import BACKEND_DIR, CELERY, FlowerProcess, LiveStack, free_port, wait_for

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


@pytest.mark.live
@pytest.mark.timeout(60)
def test_flower_refuses_to_bind_all_interfaces_without_authentication(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWER_", "CELERY_"))}
    done = subprocess.run(
        [CELERY, "-A", "config", "flower", "--address=0.0.0.0", f"--port={port}"],
        cwd=BACKEND_DIR,
        env={
            **env,
            "CELERY_BROKER_FOLDER": str(tmp_path / "broker"),
            "LOG_DIR": str(tmp_path / "logs"),
        },
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )
    assert done.returncode != 0
    assert "flowerconfig: refusing to serve Flower on 0.0.0.0 without authentication" in done.stderr
    assert "Visit me at" not in done.stdout + done.stderr  # it never started serving


# --- the rule itself, in-process -----------------------------------------------------------
@pytest.fixture
def flowerconfig(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """backend/flowerconfig.py imported with no FLOWER_* variables set.

    Importing it registers its check on tornado's global options; that is undone after.
    A fresh module each time: `importlib.reload` keeps names an earlier run defined (a
    `basic_auth` from a test that set FLOWER_BASIC_AUTH), which made the result depend on
    the test order.
    """
    for name in ("FLOWER_ADDRESS", "FLOWER_PORT", "FLOWER_BASIC_AUTH"):
        monkeypatch.delenv(name, raising=False)
    before = list(tornado_options._parse_callbacks)
    sys.modules.pop("flowerconfig", None)
    yield importlib.import_module("flowerconfig")
    sys.modules.pop("flowerconfig", None)
    tornado_options._parse_callbacks[:] = before


@pytest.mark.parametrize(
    ("address", "basic_auth", "oauth", "unix_socket", "refused"),
    [
        ("127.0.0.1", None, None, "", False),
        ("127.0.0.2", None, None, "", False),
        ("::1", None, None, "", False),
        ("localhost", None, None, "", False),
        ("0.0.0.0", None, None, "", True),
        ("", None, None, "", True),
        ("10.0.0.5", None, None, "", True),
        ("flower.example.com", None, None, "", True),
        ("0.0.0.0", ["ops:secret"], None, "", False),
        ("0.0.0.0", None, ".*@example\\.com", "", False),
        ("0.0.0.0", None, None, "/run/flower.sock", False),
        ("127.0.0.1", ["ops:"], None, "", True),
        ("127.0.0.1", ["ops"], None, "", True),
    ],
    ids=[
        "loopback",
        "other-loopback",
        "ipv6-loopback",
        "localhost",
        "all-ipv4",
        "all-interfaces",
        "private-ip",
        "hostname",
        "all-ipv4-with-basic-auth",
        "all-ipv4-with-oauth",
        "unix-socket",
        "empty-password",
        "no-password",
    ],
)
def test_flower_is_refused_only_when_reachable_from_outside_without_auth(
    flowerconfig: ModuleType,
    address: str,
    basic_auth: list[str] | None,
    oauth: str | None,
    unix_socket: str,
    refused: bool,
) -> None:
    problem = flowerconfig.exposure_problem(
        address=address, basic_auth=basic_auth, oauth=oauth, unix_socket=unix_socket
    )
    assert (problem is not None) == refused


def test_flowerconfig_defaults_to_loopback_port_5555_and_no_auth(flowerconfig: ModuleType) -> None:
    assert (flowerconfig.address, flowerconfig.port) == ("127.0.0.1", 5555)
    assert not hasattr(flowerconfig, "basic_auth")
    assert flowerconfig.max_tasks == 10000


def test_flowerconfig_reads_address_port_and_basic_auth_users_from_the_environment(
    flowerconfig: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWER_ADDRESS", "10.0.0.5")
    monkeypatch.setenv("FLOWER_PORT", "5600")
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "ops:secret,audit:another")
    sys.modules.pop("flowerconfig")
    module = importlib.import_module("flowerconfig")
    assert (module.address, module.port) == ("10.0.0.5", 5600)
    assert module.basic_auth == ["ops:secret", "audit:another"]
    assert not hasattr(flowerconfig, "basic_auth")  # the module read without them has none


@pytest.fixture
def set_flower_options(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set Flower's tornado options as a command line would; restored after the test."""
    import flower.options  # noqa: F401  (defines address, basic_auth, auth, unix_socket)

    def set_options(*, address: str, basic_auth: list[str]) -> None:
        mockable = tornado_options.mockable()  # each option is patched once per mockable
        monkeypatch.setattr(mockable, "address", address)
        monkeypatch.setattr(mockable, "basic_auth", basic_auth)
        monkeypatch.setattr(mockable, "auth", "")
        monkeypatch.setattr(mockable, "unix_socket", "")

    return set_options


@pytest.mark.parametrize(
    ("address", "basic_auth", "refused"),
    [
        ("0.0.0.0", [], True),
        ("0.0.0.0", ["ops:secret"], False),
        ("127.0.0.1", [], False),
        ("127.0.0.1", ["ops:"], True),
    ],
    ids=["all-ipv4-no-auth", "all-ipv4-basic-auth", "loopback-no-auth", "empty-password"],
)
def test_the_parse_callback_stops_flower_only_on_an_unsafe_final_option_set(
    flowerconfig: ModuleType,
    set_flower_options: Callable[..., None],
    address: str,
    basic_auth: list[str],
    refused: bool,
) -> None:
    """The callback that flowerconfig.py registers reads tornado's final options."""
    set_flower_options(address=address, basic_auth=basic_auth)
    check = flowerconfig._refuse_exposed_without_auth
    assert check in tornado_options._parse_callbacks
    if refused:
        with pytest.raises(SystemExit) as stopped:
            check()
        assert str(stopped.value) == "flowerconfig: " + flowerconfig.exposure_problem(
            address=address, basic_auth=basic_auth, oauth="", unix_socket=""
        )
    else:
        assert check() is None
    assert (tornado_options.address, tornado_options.basic_auth) == (address, basic_auth)
