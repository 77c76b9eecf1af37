"""A bad setting stops every entry point before any work: one line on stderr, exit 2.

Every row of the table is checked in-process (tests/config/test_env.py: its exact line,
which the entry points print as it is); here one row of each kind of check runs as a real
`manage.py` process, and each Celery entry point once: 0.3 to 1 s a process, where the
whole table would add some 15 s to `make test`. Against them stand a
migrated database and a media folder holding what a run would delete: an old file, an
expired token and its blacklist row, an old history row. After a bad setting all of it is
still there and no run is recorded; the control run proves that a good one deletes it.
"""

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from config.env import read_environment
from tests.config.bad_settings import BAD_SETTINGS, filled

REPO = Path(__file__).resolve().parents[2]
BACKEND = REPO / "backend"
LONG_AGO = 1_577_836_800  # 2020-01-01 00:00:00 UTC
PLANT = """
from django.core.management import call_command
call_command("migrate", verbosity=0)
from datetime import UTC, datetime
from tests.factories import OutstandingTokenFactory, record_success
long_ago = datetime(2020, 1, 1, tzinfo=UTC)
OutstandingTokenFactory(exp=long_ago, blacklisted=True)
OutstandingTokenFactory(exp=long_ago)
record_success("clean_generated_media", long_ago)
"""
# Not a row of the shared table: only a real attempt finds it. access(2) says root may
# write in /proc, and mkdir there fails; settings.py turns that OSError into the line.
PROC_ROW = (
    {"LOG_DIR": "/proc/logs"},
    "LOG_DIR='/proc/logs' is invalid: expected a writable folder (No such file or directory)",
)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """A migrated SQLite database and a media folder with things a run would delete."""
    folder = tmp_path_factory.mktemp("planted")
    env = {k: v for k, v in os.environ.items() if k not in read_environment()} | {
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "GENERATED_MEDIA_ROOT": str(folder / "media"),
        "LOG_DIR": str(folder / "logs"),
        "CELERY_BROKER_FOLDER": str(folder / "broker"),
        "CELERY_RESULT_BACKEND": f"db+sqlite:///{folder / 'results.sqlite3'}",
        "DJANGO_SECRET_KEY": "bad-settings-test-key",
        "PYTHONPATH": os.pathsep.join((str(REPO), str(BACKEND))),
    }
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PLANT],
        cwd=BACKEND,
        env=env,
        check=True,
        timeout=120,
    )
    (folder / "media").mkdir()
    (folder / "media" / "old.png").write_bytes(b"png")
    os.utime(folder / "media" / "old.png", (LONG_AGO, LONG_AGO))
    (folder / "a-file").write_text("not a folder")
    return env, folder


def state(folder: Path) -> dict[str, object]:
    """What a run could change: the media files and the row counts of the three tables."""
    with sqlite3.connect(folder / "db.sqlite3") as db:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in (
                "token_blacklist_outstandingtoken",
                "token_blacklist_blacklistedtoken",
                "maintenance_maintenancerun",
            )
        }
    return {"media": sorted(p.name for p in (folder / "media").iterdir()), **counts}


PLANTED_STATE = {
    "media": ["old.png"],
    "token_blacklist_outstandingtoken": 2,
    "token_blacklist_blacklistedtoken": 1,
    "maintenance_maintenancerun": 1,
}


def run(env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=BACKEND, env=env, capture_output=True, text=True, timeout=60, check=False
    )


# One row per parser and message path, the issue's own examples first.
IN_PROCESSES = (
    "media-age-999999",
    "token-margin-999999",
    "history-days-999999",
    "batch-arabic-indic-five",
    "log-level-loud",
    "log-dir-a-file",
    "database-url-empty",
    "database-url-bad-port-password-hidden",
    "debug-maybe",
    "allowed-hosts-empty-entry",
    "two-bad-values-in-one-line",
)


@pytest.mark.parametrize(
    "row",
    [*(BAD_SETTINGS[name] for name in IN_PROCESSES), PROC_ROW],
    ids=[*IN_PROCESSES, "log-dir-in-proc"],
)
def test_manage_py_stops_with_one_line_and_deletes_nothing(
    planted: tuple[dict[str, str], Path], row: tuple[dict[str, str], str]
) -> None:
    env, folder = planted
    variables, line = filled(row, str(folder / "a-file"))
    command = "clean_blacklisted_tokens" if "TOKEN" in str(variables) else "clean_generated_media"

    done = run(env | variables, sys.executable, "manage.py", command, "--json")

    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")
    assert state(folder) == PLANTED_STATE


@pytest.mark.parametrize(
    ("arguments", "bad"),
    [
        (("call", "clean_generated_media"), "history-days-999999"),
        (("worker", "--pool=solo"), "media-age-999999"),
        (("beat",), "log-dir-under-a-file"),
        (("flower",), "database-url-garbage"),
    ],
    ids=["call", "worker", "beat", "flower"],
)
def test_celery_stops_with_one_line_and_deletes_nothing(
    planted: tuple[dict[str, str], Path], arguments: tuple[str, ...], bad: str
) -> None:
    env, folder = planted
    variables, line = filled(BAD_SETTINGS[bad], str(folder / "a-file"))
    celery = str(Path(sys.executable).with_name("celery"))

    done = run(env | variables, celery, "-A", "config", *arguments)

    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")
    assert state(folder) == PLANTED_STATE


def test_control_good_settings_delete_what_was_planted(
    planted: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, folder = planted
    shutil.copy(folder / "db.sqlite3", tmp_path / "db.sqlite3")
    shutil.copytree(folder / "media", tmp_path / "media")
    env = env | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "GENERATED_MEDIA_ROOT": str(tmp_path / "media"),
    }

    for command in ("clean_generated_media", "clean_blacklisted_tokens"):
        done = run(env, sys.executable, "manage.py", command, "--json")
        assert done.returncode == 0, done.stderr

    assert state(tmp_path) == {
        "media": [],
        "token_blacklist_outstandingtoken": 0,
        "token_blacklist_blacklistedtoken": 0,
        "maintenance_maintenancerun": 2,  # the two runs; the 2020 row was pruned
    }
    assert state(folder) == PLANTED_STATE
