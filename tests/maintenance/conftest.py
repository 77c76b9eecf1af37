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
    import psycopg

    from tests.live.servers import LIVE_POSTGRES_URL, require_server
    from tests.live.stack import close_alias, open_alias

    require_server("PostgreSQL", LIVE_POSTGRES_URL)
    name = f"{os.environ.get('LIVE_POSTGRES_DB') or 'pm_live'}_inprocess_{os.getpid()}"

    def admin(statement: str) -> None:
        with psycopg.connect(f"{LIVE_POSTGRES_URL}/postgres", autocommit=True) as connection:
            connection.execute(statement)

    admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin(f"CREATE DATABASE {name}")
    try:
        with django_db_blocker.unblock():
            open_alias("postgres", f"{LIVE_POSTGRES_URL}/{name}")
        yield "postgres"
    finally:
        close_alias("postgres")
        admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
