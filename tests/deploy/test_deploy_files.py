"""The deployment files of deploy/: a Procfile honcho accepts, systemd units systemd accepts.

The Procfile's processes run for real in tests/live/test_topology.py; here, their shape:
exactly one beat with a persistent schedule file, workers without an embedded beat, one
media worker per host on that host's queue, and systemd units that say the same.
"""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from honcho.environ import parse_procfile

from config.hosts import media_queue
from tests.live.servers import servers_required

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
VENV = Path(sys.executable).parent.parent


def procfile() -> dict[str, str]:
    return dict(parse_procfile((DEPLOY / "Procfile").read_text()).processes)


def argv(command: str) -> list[str]:
    """The program's arguments after `cd backend && exec`."""
    prefix = "cd backend && exec "
    assert command.startswith(prefix), command
    return shlex.split(command.removeprefix(prefix))


def test_the_procfile_has_one_line_per_process_type() -> None:
    assert list(procfile()) == ["web", "beat", "worker", "media", "flower"]


def test_honcho_accepts_the_procfile() -> None:
    honcho = str(Path(sys.executable).with_name("honcho"))
    done = subprocess.run(
        [honcho, "check", "-f", "deploy/Procfile", "-d", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Valid procfile detected (web, beat, worker, media, flower)" in done.stderr


def test_beat_runs_alone_with_its_schedule_file_in_the_persistent_folder() -> None:
    processes = {name: argv(command) for name, command in procfile().items()}
    assert processes["beat"] == [
        "celery",
        "-A",
        "config",
        "beat",
        "--schedule=$BEAT_STATE_DIR/celerybeat-schedule",
        "--loglevel=INFO",
    ]
    for name, args in processes.items():  # no other process embeds a beat
        if name != "beat":
            assert "beat" not in args
            assert not {"--beat", "-B"} & set(args), name


def test_the_general_worker_and_each_media_worker_consume_their_own_queue() -> None:
    processes = {name: argv(command) for name, command in procfile().items()}
    assert "--queues=celery" in processes["worker"]
    assert "--queues=media.$MEDIA_HOST" in processes["media"]
    assert "--hostname=media@$MEDIA_HOST" in processes["media"]
    assert media_queue("$MEDIA_HOST") == "media.$MEDIA_HOST"
    assert processes["web"][:2] == ["gunicorn", "config.wsgi:application"]
    assert processes["flower"][:4] == ["celery", "-A", "config", "flower"]


def unit_exec(unit: Path) -> list[str]:
    [line] = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_the_units_run_what_the_procfile_runs() -> None:
    processes = {name: argv(command) for name, command in procfile().items()}
    units = {unit.name: unit_exec(unit) for unit in UNITS}
    venv_bin = "/opt/periodic-maintenance/.venv/bin/"
    assert units["periodic-maintenance-beat.service"] == [
        venv_bin + "celery",
        *processes["beat"][1:4],
        "--schedule=%S/periodic-maintenance/celerybeat-schedule",
        "--loglevel=INFO",
    ]
    assert units["periodic-maintenance-worker.service"][1:5] == processes["worker"][1:5]
    assert units["periodic-maintenance-media@.service"][4:6] == [
        "--queues=media.%i",
        "--hostname=media@%i",
    ]
    assert units["periodic-maintenance-web.service"][1] == processes["web"][1]
    assert units["periodic-maintenance-flower.service"][1:4] == processes["flower"][1:4]
    for unit in UNITS:
        text = unit.read_text()
        assert "EnvironmentFile=/etc/periodic-maintenance/env" in text
        assert "WorkingDirectory=/opt/periodic-maintenance/backend" in text
    assert "StateDirectory=periodic-maintenance" in UNITS[0].read_text()  # beat's


def _verify(units: list[Path], folder: Path) -> subprocess.CompletedProcess:
    """`systemd-analyze verify` on copies whose paths point at this checkout.

    verify fails on an ExecStart program that does not exist, and /opt/... is where a
    server has it; a template is verified as one instance (web1).
    """
    if not os.access(SYSTEMD_ANALYZE, os.X_OK):
        reason = f"{SYSTEMD_ANALYZE} is not installed: the units are unchecked"
        if servers_required():
            pytest.fail(f"{reason}, and CI=true requires it", pytrace=False)
        pytest.skip(reason)
    copies = []
    for unit in units:
        text = unit.read_text()
        text = text.replace("/opt/periodic-maintenance/.venv", str(VENV))
        text = text.replace("/opt/periodic-maintenance/backend", str(ROOT / "backend"))
        copy = folder / unit.name.replace("@.service", "@web1.service")
        copy.write_text(text)
        copies.append(str(copy))
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *copies],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    assert len(UNITS) == 5
    done = _verify(UNITS, tmp_path)
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


def test_systemd_analyze_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "src" / "periodic-maintenance-beat.service"
    broken.parent.mkdir()
    broken.write_text(UNITS[0].read_text().replace("Restart=always", "Restrt=always"))
    done = _verify([broken], tmp_path)
    assert "Unknown key 'Restrt' in section [Service]" in done.stderr
