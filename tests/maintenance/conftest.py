"""Fixtures for the maintenance app's tests."""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from loguru import logger
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from config import logs
from tests.clock import MEDIA_NOW


@pytest.fixture
def age_entry() -> Callable[[Path, timedelta], Path]:
    """Set a file's, link's or directory's own mtime to `age` before MEDIA_NOW.

    `follow_symlinks=False`: a link is aged itself, its target never is. Works on the
    real filesystem and under pyfakefs alike.
    """

    def age(path: Path, age: timedelta) -> Path:
        mtime = (MEDIA_NOW - age).timestamp()
        os.utime(path, (mtime, mtime), follow_symlinks=False)
        return path

    return age


@pytest.fixture
def make_media_file(age_entry: Callable[[Path, timedelta], Path]) -> Callable[..., Path]:
    """`make_media_file(path, age=timedelta(days=8), size=10)`: a file of `size` bytes, that old.

    Missing parents are created with the current (young) mtime.
    """

    def make(path: Path, *, age: timedelta, size: int = 10) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        return age_entry(path, age)

    return make


@pytest.fixture
def unredacted() -> Iterator[None]:
    """Switch off the JWT-redacting patcher of config.logs, so the logs are as written.

    The patcher is a safety net; the tokens module must not need it.
    """
    logger.configure(patcher=lambda record: None)
    yield
    logger.configure(patcher=logs._redact_record)


@pytest.fixture(scope="session")
def manage_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for real `manage.py` processes: their own migrated SQLite and log folder."""
    folder = tmp_path_factory.mktemp("manage")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder}/db.sqlite3",
        "LOG_DIR": str(folder / "logs"),
        "DJANGO_SECRET_KEY": "subprocess-test-key",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "maintenance", "-v0"],
        cwd=Path(__file__).resolve().parents[2] / "backend",
        env=env,
        check=True,
        timeout=60,
    )
    return env


@pytest.fixture
def twenty_tokens() -> list[OutstandingToken]:
    """A mixed table of twenty tokens (tests/maintenance/token_support.py, TWENTY)."""
    from tests.maintenance.token_support import make_twenty

    return make_twenty()


@pytest.fixture
def fake_root(fs: object) -> Path:
    """The media root on a fake filesystem (pyfakefs): /srv/app/generated_media, empty."""
    from tests.maintenance.fake_tree import ROOT

    fs.create_dir(ROOT)
    return ROOT


@pytest.fixture(scope="session")
def postgres_alias(django_db_setup: None, django_db_blocker) -> Iterator[str]:
    """A migrated PostgreSQL database of this process, as the Django alias "postgres".

    For in-process tests of the PostgreSQL branches (row locks, array parameters), which the
    mutation run can judge (docs/mutation.md). Skips, or fails under CI=true, without a
    server (tests/live/servers.py); dropped at the end of the session.
    """
    import dj_database_url
    import psycopg
    from django.core.management import call_command
    from django.db import connections

    from tests.live.servers import LIVE_POSTGRES_URL, require_server

    require_server("PostgreSQL", LIVE_POSTGRES_URL)
    name = f"{os.environ.get('LIVE_POSTGRES_DB') or 'pm_live'}_inprocess_{os.getpid()}"
    with psycopg.connect(f"{LIVE_POSTGRES_URL}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    configured = connections.configure_settings(
        {
            "default": dict(connections.settings["default"]),
            "postgres": dj_database_url.parse(f"{LIVE_POSTGRES_URL}/{name}"),
        }
    )
    connections.settings["postgres"] = configured["postgres"]
    try:
        with django_db_blocker.unblock():
            call_command("migrate", database="postgres", interactive=False, verbosity=0)
        yield "postgres"
    finally:
        connections["postgres"].close()
        del connections["postgres"]
        del connections.settings["postgres"]
        with psycopg.connect(f"{LIVE_POSTGRES_URL}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
