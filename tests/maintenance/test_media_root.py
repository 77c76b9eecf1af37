"""Which media roots a run refuses, before anything is opened, and how a relative one
is resolved. Symlinks and swaps: test_media_swaps.py.
"""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from freezegun import freeze_time
from pytest_django.fixtures import Settings

from maintenance.media import MediaRootError, delete_old_media
from maintenance.media.root import BACKEND_DIR, absolute_root
from maintenance.models import MaintenanceRun
from maintenance.tasks import clean_generated_media
from tests.clock import MEDIA_NOW as NOW
from tests.clock import WEEK
from tests.logs import logged
from tests.maintenance.media_support import clean, faults

OLD = timedelta(days=30)
REPO = BACKEND_DIR.parent


def refused(root: str, **kwargs: object) -> str:
    """Run a dry run on `root`; return the refusal, after checking nothing was opened."""
    opened: list[object] = []
    real_open = os.open
    spy = lambda path, *a, **kw: opened.append(path) or real_open(path, *a, **kw)  # noqa: E731
    with faults(open=spy), pytest.raises(MediaRootError) as raised:
        delete_old_media(root=Path(root), now=NOW, max_age=WEEK, dry_run=True, **kwargs)
    assert opened == []  # refused before anything was opened
    return str(raised.value)


# --- Dangerous roots, each in a dry run ----------------------------------------------------


@pytest.mark.parametrize(
    ("root", "reason"),
    [
        ("/", "it is the filesystem root /"),
        ("//.", "it is the filesystem root /"),
        ("/usr", "it is the system folder /usr"),
        ("/etc", "it is the system folder /etc"),
        ("/var", "it is the system folder /var"),
        ("/home", "it is the system folder /home"),
        ("/tmp", "it is the system folder /tmp"),
        ("/var/lib", "it is the system folder /var/lib"),
        ("/usr/./lib/", "it is the system folder /usr/lib"),
        ("/proc/self/cwd", "it is inside the kernel's /proc"),
        ("/dev/shm", "it is the system folder /dev/shm"),
        (str(BACKEND_DIR), "it contains or is inside the project's code"),
        (str(REPO), "it contains or is inside the project's code"),
        (str(BACKEND_DIR / "maintenance" / "media"), "it contains or is inside the project's code"),
    ],
)
def test_dangerous_root_is_refused_in_a_dry_run_before_anything_is_opened(
    root: str, reason: str
) -> None:
    message = refused(root)

    shown = "/" + os.path.normpath(root).lstrip("/")  # as the line names it: normalized
    assert message.startswith(f"GENERATED_MEDIA_ROOT={shown} is refused: {reason}")
    assert "\n" not in message


def test_the_users_home_and_what_contains_it_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home" / "someone"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))

    assert refused(str(home)).endswith(f"it is or contains the home folder {home}")
    assert refused(str(home.parent)).endswith(f"it is or contains the home folder {home}")
    inside = home / "media"
    inside.mkdir()
    assert clean(inside, dry_run=True).root == str(inside)  # a folder inside home is fine


def test_a_root_holding_the_database_or_the_logs_is_refused(tmp_path: Path) -> None:
    database, logs = tmp_path / "data" / "db.sqlite3", tmp_path / "data" / "logs"
    protected = [("the SQLite database", str(database)), ("the log folder", str(logs))]

    message = refused(str(tmp_path / "data"), protected=protected)
    assert message.endswith(f"it contains the SQLite database {database}")
    assert refused(str(logs), protected=protected).endswith(f"it contains the log folder {logs}")


def test_a_symlink_to_a_dangerous_root_is_refused_by_its_target(tmp_path: Path) -> None:
    link = tmp_path / "media"
    link.symlink_to("/etc")

    assert refused(str(link)) == (
        f"GENERATED_MEDIA_ROOT={link} (-> /etc) is refused: it is the system folder /etc"
    )


def test_a_link_retargeted_after_the_check_is_refused_by_what_it_points_to_at_open(
    tmp_path: Path,
) -> None:
    """The link named the media folder when it was checked, the log folder when opened."""
    logs = tmp_path / "logs"
    logs.mkdir()
    link = tmp_path / "media"
    link.symlink_to(logs)
    protected = [("the log folder", str(logs))]

    with faults(realpath=lambda path: path), pytest.raises(MediaRootError) as raised:
        delete_old_media(root=link, now=NOW, max_age=WEEK, dry_run=True, protected=protected)

    assert str(raised.value) == (
        f"GENERATED_MEDIA_ROOT={logs} is refused: it contains the log folder {logs}"
    )


def test_an_error_without_an_explanation_is_named_by_its_text(tmp_path: Path) -> None:
    real_open = os.open

    def failing(path: str, *args: object, **kwargs: object) -> int:
        if path == tmp_path.name:
            raise OSError("the driver said no")  # no errno, no strerror
        return real_open(path, *args, **kwargs)

    with faults(open=failing), pytest.raises(MediaRootError) as raised:
        clean(tmp_path)

    assert str(raised.value) == f"cannot open generated media root {tmp_path}: the driver said no"


def test_a_missing_root_in_a_dry_run_is_reported_as_a_dry_run(tmp_path: Path) -> None:
    summary = clean(tmp_path / "missing", dry_run=True)
    assert (summary.root_missing, summary.dry_run) == (True, True)


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ("//Xray/media", "/Xray/media"),
        ("///srv//media/", "/srv/media"),
        ("/srv/./a/../m", "/srv/m"),
    ],
)
def test_an_absolute_root_is_normalized_to_one_leading_slash(root: str, expected: str) -> None:
    assert absolute_root(root) == expected


@pytest.mark.django_db
def test_the_command_refuses_a_log_folder_root_in_a_dry_run(
    settings: Settings, tmp_path: Path
) -> None:
    settings.LOG_DIR = tmp_path / "logs"
    settings.GENERATED_MEDIA_ROOT = tmp_path

    with pytest.raises(CommandError) as raised, freeze_time(NOW):
        call_command("clean_generated_media", "--dry-run")

    assert str(raised.value) == (
        f"clean_generated_media failed: GENERATED_MEDIA_ROOT={tmp_path} is refused: it "
        f"contains the log folder {tmp_path / 'logs'}"
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_the_task_on_a_refused_root_is_recorded_failed_once_and_not_retried(
    settings: Settings,
) -> None:
    settings.GENERATED_MEDIA_ROOT = Path("/")

    with pytest.raises(MediaRootError, match=r"^GENERATED_MEDIA_ROOT=/ is refused"):
        clean_generated_media.delay(dry_run=True).get()

    runs = list(MaintenanceRun.objects.values_list("task", "outcome", "dry_run"))
    assert runs == [("clean_generated_media", MaintenanceRun.Outcome.FAILED, True)]


def test_a_real_process_refuses_slash_in_a_dry_run_with_one_line_and_exit_1(
    manage_env: dict[str, str],
) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "clean_generated_media", "--dry-run"],
        cwd=BACKEND_DIR,
        env={**manage_env, "GENERATED_MEDIA_ROOT": "/"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        "CommandError: clean_generated_media failed: GENERATED_MEDIA_ROOT=/ is refused: "
        "it is the filesystem root /"
    )


# --- The setting: unset, empty, relative -------------------------------------------------


def test_a_relative_root_is_resolved_against_backend_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert absolute_root("media/../generated") == str(BACKEND_DIR / "generated")
    assert absolute_root("/srv//media/") == "/srv/media"  # absolute: normalized, not logged
    assert logged(caplog) == [
        f"INFO GENERATED_MEDIA_ROOT media/../generated is relative: resolved against "
        f"{BACKEND_DIR} to {BACKEND_DIR / 'generated'}"
    ]


def test_a_process_resolves_a_relative_root_against_backend_and_stops_on_an_empty_one(
    manage_env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "media"
    root.mkdir()
    relative = os.path.relpath(root, BACKEND_DIR)

    def manage(value: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(BACKEND_DIR / "manage.py"), "clean_generated_media", "--json"],
            cwd="/",  # not backend/: the base is backend/ whatever the working folder
            env={**manage_env, "GENERATED_MEDIA_ROOT": value},
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = manage(relative)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["root"] == str(root)
    assert f"GENERATED_MEDIA_ROOT {relative} is relative: resolved against" in done.stderr
    empty = manage("")
    assert empty.returncode != 0
    assert empty.stderr.count("\n") == 1  # one line, no traceback
    assert empty.stderr.startswith("GENERATED_MEDIA_ROOT")
