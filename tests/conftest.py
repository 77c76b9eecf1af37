"""Hypothesis profiles for the property tests, chosen by HYPOTHESIS_PROFILE (default `dev`);
the `eager` fixture shared by every folder; and the xdist scheduling of tests/live/.

- `dev`: few examples, for `make test` on a laptop; the example database in `.hypothesis/`
  replays earlier failures first.
- `ci`: at least 300 examples per property, derandomized so every CI run tests the same
  inputs (a failure is reproducible from the log alone), and no example database.

Filesystem and database work makes example times uneven, so no per-example deadline.
"""

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings
from loguru import logger
from xdist.scheduler import LoadScopeScheduling

from config.celery import app
from tests.clock import SYSTEM_STARTED

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci", max_examples=300, derandomize=True, database=None, deadline=None, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_report_header() -> str:
    active = settings.default
    return (
        f"hypothesis profile: {os.environ.get('HYPOTHESIS_PROFILE', 'dev')} "
        f"(max_examples={active.max_examples}, derandomize={active.derandomize})"
    )


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """pytest's caplog, fed by loguru: the bridge from loguru's documentation
    ("Replacing caplog fixture from pytest library")."""
    handler_id = logger.add(
        caplog.handler,
        format="{message}",
        level=0,
        filter=lambda record: record["level"].no >= caplog.handler.level,
        enqueue=False,  # Set to 'True' if your test is spawning child processes.
    )
    yield caplog
    logger.remove(handler_id)


@pytest.fixture
def eager() -> Iterator[None]:
    """Run tasks in-process (mode 1): `.delay()` executes at once and returns its result."""
    previous = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


# --- pytest-xdist (`make test` runs -n 2) --------------------------------------------------
class LiveTestsTogetherScheduling(LoadScopeScheduling):
    """xdist's scope scheduling (a module is a unit), with all of tests/live/ as one unit,
    and the slow units handed out first.

    The live stacks (tests/live/conftest.py) are session fixtures with a fixed PostgreSQL
    database name and fixed Redis numbers, so two xdist workers must not both start them;
    only tests under tests/live/ can use those fixtures. xdist's own `--dist loadgroup`
    cannot do this here: it marks a group by editing `item._nodeid`, which pytest 9.2 no
    longer reads (pytest-dev/pytest-xdist#1386).

    Order: xdist hands out units by number of tests, which put the two slowest units, the
    live one (about 30 s) and the Hypothesis modules (2 tests, 5 to 15 s each), last, so one
    worker ran them while the other sat idle. Here the live unit goes first, then the
    property modules, then the rest by number of tests.
    """

    def _split_scope(self, nodeid: str) -> str:
        return "tests/live" if nodeid.startswith("tests/live/") else super()._split_scope(nodeid)

    def _assign_work_unit(self, node: object) -> None:
        first = min(
            self.workqueue, key=lambda scope: (unit_rank(scope), -len(self.workqueue[scope]))
        )
        self.workqueue.move_to_end(first, last=False)
        super()._assign_work_unit(node)


def unit_rank(scope: str) -> int:
    """0 for the live unit, 1 for a module of property tests, 2 for the rest."""
    if scope == "tests/live":
        return 0
    return 1 if scope.endswith("_properties.py") else 2


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """Keep tests/live/ on one xdist worker under every load-balancing `--dist` mode."""
    if config.getvalue("dist") in ("load", "loadscope", "loadfile", "loadgroup"):
        return LiveTestsTogetherScheduling(config, log)
    return None


# The test database's deployment "started" (its maintenance migration was applied, the
# start maintenance/health.py counts from) long before every literal `now` in the tests,
# so a task that never ran is STALE there unless a test moves the start (SYSTEM_STARTED).
@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: object) -> None:
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    # pytest-django sets up only the databases the session's tests ask for: a session of
    # live tests alone has no test database, and this must not touch the real one.
    if connection.settings_dict["NAME"] != connection.creation._get_test_db_name():
        return
    with django_db_blocker.unblock():
        MigrationRecorder.Migration.objects.filter(app="maintenance").update(applied=SYSTEM_STARTED)
