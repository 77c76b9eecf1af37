"""A real `manage.py` process's environment, shared by the command modules that start one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BACKEND = Path(__file__).resolve().parents[4] / "backend"


@pytest.fixture(scope="module")
def manage_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for a real `manage.py` process: its own migrated SQLite and log folder."""
    folder = tmp_path_factory.mktemp("manage")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder}/db.sqlite3",
        "LOG_DIR": str(folder / "logs"),
        "DJANGO_SECRET_KEY": "subprocess-test-key",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "maintenance", "-v0"],
        cwd=BACKEND,
        env=env,
        check=True,
        timeout=60,
    )
    return env
