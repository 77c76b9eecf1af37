"""The loopback-or-auth rule on a real `celery -A config flower`, wherever it starts.

From the repository root (`PYTHONPATH=backend`, where Flower finds no flowerconfig.py in
the working directory) and from backend/, with the options given on the command line, in
FLOWER_* variables or in a config file. A refused Flower exits 1 with one line on stderr
and never serves; an allowed one listens on loopback only, and answers 401 without
credentials when it has a password.

Every Flower of this module is started at once: a start is about 2 s of imports, and side
by side they share that wait. Each has its own broker folder, so none takes the events
that the Flower of tests/live/test_flower.py waits for.
"""

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.live.processes import (
    BACKEND_DIR,
    CELERY,
    FlowerProcess,
    ProcessRegistry,
    free_port,
    wait_for,
)

pytestmark = [pytest.mark.live, pytest.mark.timeout(90)]

REPO = BACKEND_DIR.parent
USER, PASSWORD = "ops", "flower-guard-test"
# What the UI's task table requests (DataTables' server-side parameters).
DATATABLE = "/tasks/datatable?draw=1&start=0&length=10&order[0][column]=0&columns[0][data]=name"
REFUSAL = (
    "flower: refusing to serve Flower on {} without authentication: set "
    "FLOWER_BASIC_AUTH=user:password (or --auth with OAuth), or bind 127.0.0.1"
)


@dataclass(frozen=True)
class Start:
    """One way an operator starts Flower: the folder, the flags, the FLOWER_* variables."""

    cwd: Path
    flags: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    config: str = ""  # text of a config file passed with --conf; "" for none


SERVED = {
    "root-no-auth": Start(REPO),
    "root-basic-auth-env": Start(REPO, env=(("FLOWER_BASIC_AUTH", f"{USER}:{PASSWORD}"),)),
    "backend-no-auth": Start(BACKEND_DIR),
    "root-ipv6-loopback-bracketed": Start(REPO, flags=("--address=[::1]",)),
    "root-ipv6-config-file-with-auth": Start(
        REPO, config=f'address = "::1"\nbasic_auth = ["{USER}:{PASSWORD}"]\n'
    ),
}
REFUSED = {
    "root-all-ipv4-flag": (Start(REPO, flags=("--address=0.0.0.0",)), "0.0.0.0"),
    "backend-all-ipv4-flag": (Start(BACKEND_DIR, flags=("--address=0.0.0.0",)), "0.0.0.0"),
    "root-all-ipv6-env": (Start(REPO, env=(("FLOWER_ADDRESS", "::"),)), "::"),
    "root-config-file": (Start(REPO, config='address = ""\n'), "every interface"),
    "backend-config-file-flag-wins": (
        Start(BACKEND_DIR, flags=("--address=10.1.2.3",), config='address = "127.0.0.1"\n'),
        "10.1.2.3",
    ),
}


def environment(start: Start, root: Path) -> dict[str, str]:
    """An operator's shell: no FLOWER_*/CELERY_* of the test run, private broker and logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWER_", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_SECRET_KEY="flower-guard-test-key",
        CELERY_BROKER_FOLDER=str(root / "broker"),
        CELERY_RESULT_BACKEND=f"db+sqlite:///{root / 'results.sqlite3'}",
        LOG_DIR=str(root / "logs"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    if start.cwd == REPO:
        env["PYTHONPATH"] = "backend"  # as the operator ran it
    env.update(start.env)
    return env


def argv(start: Start, root: Path, port: int) -> list[str]:
    flags = list(start.flags)
    if start.config:
        conf = root / "flower_settings.py"
        conf.write_text(start.config)
        flags.append(f"--conf={conf}")
    return [CELERY, "-A", "config", "flower", f"--port={port}", *flags]


@dataclass
class Started:
    served: dict[str, FlowerProcess]
    refused: dict[str, subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def flowers(
    tmp_path_factory: pytest.TempPathFactory, live_processes: ProcessRegistry
) -> Iterator[Started]:
    """Every Flower of SERVED and REFUSED, started together; the served ones answering."""
    served: dict[str, FlowerProcess] = {}
    pending: dict[str, subprocess.Popen] = {}
    try:
        for name, start in SERVED.items():
            root = tmp_path_factory.mktemp(f"flower-{name}")
            port = free_port()
            log = root / "flower.log"
            process = live_processes.start(
                argv(start, root, port), env=environment(start, root), log=log, cwd=start.cwd
            )
            host = "[::1]" if "ipv6" in name else "127.0.0.1"
            served[name] = FlowerProcess(port, USER, PASSWORD, process, log, host=host)
        for name, (start, _shown) in REFUSED.items():
            root = tmp_path_factory.mktemp(f"flower-{name}")
            pending[name] = subprocess.Popen(
                argv(start, root, free_port()),
                cwd=start.cwd,
                env=environment(start, root),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        refused = {}
        for name, process in pending.items():
            stdout, stderr = process.communicate(timeout=60)
            refused[name] = subprocess.CompletedProcess(
                process.args, process.returncode, stdout, stderr
            )
        for name, flower in served.items():
            wait_for(flower.answers, timeout_s=60, what=f"flower {name} to answer /healthcheck")
        yield Started(served=served, refused=refused)
    finally:
        for process in pending.values():
            if process.poll() is None:
                process.kill()
                process.wait(5)
        for flower in served.values():
            live_processes.stop(flower.process, grace_s=5)


def listening(flower: FlowerProcess) -> set[tuple[str, int]]:
    return {
        (conn.laddr.ip, conn.laddr.port)
        for conn in psutil.Process(flower.process.pid).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    }


@pytest.mark.parametrize("name", list(REFUSED))
def test_an_exposed_flower_without_auth_exits_1_with_one_line_and_never_serves(
    flowers: Started, name: str
) -> None:
    done = flowers.refused[name]
    _start, shown = REFUSED[name]
    assert done.returncode == 1
    assert done.stderr.splitlines() == [REFUSAL.format(shown)]
    assert "Visit me at" not in done.stdout + done.stderr


@pytest.mark.parametrize("name", list(SERVED))
def test_an_allowed_flower_listens_on_loopback_only(flowers: Started, name: str) -> None:
    flower = flowers.served[name]
    expected_ip = "::1" if "ipv6" in name else "127.0.0.1"
    assert listening(flower) == {(expected_ip, flower.port)}
    assert flower.get("/healthcheck") == (200, b"OK")


@pytest.mark.parametrize("name", [n for n in SERVED if "auth" in n and "no-auth" not in n])
def test_a_flower_with_a_password_answers_401_without_it(flowers: Started, name: str) -> None:
    flower = flowers.served[name]
    for path in ("/api/workers", DATATABLE, "/tasks"):
        assert flower.get(path)[0] == 401
        assert flower.get(path, auth=(USER, "wrong-password"))[0] == 401
    assert flower.get("/api/workers", auth=(USER, PASSWORD))[0] == 200
    # Open even with a password (README): the health check, and the metrics' task names,
    # counts and runtimes and worker names.
    assert flower.get("/healthcheck") == (200, b"OK")
    status, metrics = flower.get("/metrics")
    assert status == 200
    assert b"flower_events_total" in metrics


@pytest.mark.parametrize("name", [n for n in SERVED if "no-auth" in n])
def test_a_loopback_flower_without_a_password_shows_its_pages_to_local_clients(
    flowers: Started, name: str
) -> None:
    """The UI and its task table are open to anyone on the machine; the API stays locked."""
    flower = flowers.served[name]
    assert flower.get("/tasks")[0] == 200
    assert flower.get(DATATABLE)[0] == 200
    assert flower.get("/api/workers")[0] == 401  # Flower's API needs FLOWER_UNAUTHENTICATED_API
