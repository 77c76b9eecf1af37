"""`manage.py clean_generated_media [--dry-run] [--json]`: a thin shell over one run."""

import errno
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from freezegun import freeze_time
from pytest_django.fixtures import Settings

from tests.clock import MEDIA_NOW as NOW
from tests.clock import OLD, YOUNG
from tests.maintenance.media_support import faults

BACKEND = Path(__file__).resolve().parents[4] / "backend"

MakeFile = Callable[..., Path]

pytestmark = pytest.mark.django_db  # every run writes its history row


def run_command(*args: str) -> str:
    out = StringIO()
    with freeze_time(NOW):
        call_command("clean_generated_media", *args, stdout=out)
    return out.getvalue()


def summary_of(media_root: Path, **numbers: int | bool) -> dict:
    base = dict(root=str(media_root), scanned=0, deleted=0, bytes_freed=0, dirs_removed=0)
    base.update(skipped=0, errors=0, dry_run=False, completed=True, duration_s=0.0)  # frozen
    base.update(stop_reason="", recorded=True)
    base.update(root_missing=False)
    base.update(numbers)
    return base


def test_json_flag_prints_one_json_object_and_deletes_by_the_clock(
    media_root: Path, make_media_file: MakeFile
) -> None:
    old = make_media_file(media_root / "old.png", age=OLD, size=64)
    young = make_media_file(media_root / "young.png", age=YOUNG, size=64)
    gitkeep = make_media_file(media_root / ".gitkeep", age=timedelta(days=365), size=0)

    out = run_command("--json")

    assert out.count("\n") == 1
    assert json.loads(out) == summary_of(media_root, scanned=3, deleted=1, bytes_freed=64)
    assert not old.exists()
    assert young.exists()
    assert gitkeep.exists()


def test_without_json_it_prints_one_readable_line_per_number(
    media_root: Path, make_media_file: MakeFile
) -> None:
    make_media_file(media_root / "old.png", age=OLD, size=64)

    out = run_command()

    assert out.splitlines() == [
        f"root          {media_root}",
        "scanned       1",
        "deleted       1",
        "bytes_freed   64",
        "dirs_removed  0",
        "skipped       0",
        "errors        0",
        "dry_run       False",
        "completed     True",
        "duration_s    0.0",
        "root_missing  False",
        "stop_reason   ",
        "recorded      True",
    ]


def test_dry_run_flag_deletes_nothing_and_reports_the_plan(
    media_root: Path, make_media_file: MakeFile
) -> None:
    old = make_media_file(media_root / "a" / "old.png", age=OLD, size=64)

    plan = json.loads(run_command("--dry-run", "--json"))

    assert old.exists()
    assert plan == summary_of(media_root, scanned=2, deleted=1, bytes_freed=64, dry_run=True)
    assert json.loads(run_command("--json")) == {**plan, "dry_run": False}
    assert not old.exists()


def test_max_age_and_keep_list_come_from_settings(
    media_root: Path, make_media_file: MakeFile, settings: Settings
) -> None:
    settings.GENERATED_MEDIA_MAX_AGE_DAYS = 1
    settings.GENERATED_MEDIA_KEEP = ("*.keep",)
    two_days = make_media_file(media_root / "two-days.png", age=timedelta(days=2))
    one_day = make_media_file(media_root / "one-day.png", age=timedelta(days=1))
    kept = make_media_file(media_root / "note.keep", age=timedelta(days=30))
    gitkeep_now_unprotected = make_media_file(media_root / ".gitkeep", age=timedelta(days=30))

    summary = json.loads(run_command("--json"))

    assert not two_days.exists()
    assert one_day.exists()
    assert kept.exists()
    assert not gitkeep_now_unprotected.exists()
    assert summary == summary_of(media_root, scanned=4, deleted=2, bytes_freed=20)


def test_item_errors_are_counted_and_the_command_still_succeeds(
    media_root: Path, make_media_file: MakeFile
) -> None:
    stuck = make_media_file(media_root / "stuck.png", age=OLD)
    other = make_media_file(media_root / "other.png", age=OLD)
    real_unlink = os.unlink

    def unlink(name: str, *, dir_fd: int) -> None:
        if name == stuck.name:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        real_unlink(name, dir_fd=dir_fd)

    with faults(unlink=unlink):
        summary = json.loads(run_command("--json"))  # no CommandError

    assert stuck.exists()
    assert not other.exists()
    assert summary == summary_of(media_root, scanned=2, deleted=1, bytes_freed=10, errors=1)


def test_missing_root_is_an_empty_run_that_says_root_missing(media_root: Path) -> None:
    media_root.rmdir()

    assert json.loads(run_command("--json")) == summary_of(media_root, root_missing=True)


def test_root_that_is_not_a_directory_is_a_command_error(media_root: Path) -> None:
    media_root.rmdir()
    media_root.write_text("a file, not a folder")

    with pytest.raises(CommandError) as raised:
        run_command("--json")

    assert str(raised.value) == (
        f"clean_generated_media failed: cannot open generated media root {media_root}: "
        "Not a directory"
    )
    assert media_root.read_text() == "a file, not a folder"


def manage(env: dict[str, str], root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "clean_generated_media", *args],
        cwd=BACKEND,
        env={**env, "GENERATED_MEDIA_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_real_process_exits_0_and_prints_json_on_stdout(
    manage_env: dict[str, str], tmp_path: Path
) -> None:
    """The real clock runs here, so ages are far from the boundary (30 days against 1)."""
    root = tmp_path / "media"
    root.mkdir()
    old, young = root / "old.png", root / "young.png"
    for path, age_days in ((old, 30), (young, 1)):
        path.write_bytes(b"x" * 5)
        mtime = time.time() - age_days * 86400
        os.utime(path, (mtime, mtime))

    done = manage(manage_env, root, "--json")

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary == {
        **summary_of(root, scanned=2, deleted=1, bytes_freed=5),
        "duration_s": summary["duration_s"],
    }
    assert not old.exists()
    assert young.exists()
    assert "clean_generated_media summary" in done.stderr  # logs go to stderr, not stdout


def test_real_process_that_cannot_run_exits_1_with_one_clear_line(
    manage_env: dict[str, str], tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "media"
    not_a_folder.write_text("x")

    done = manage(manage_env, not_a_folder, "--json")

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines()[-1] == (
        f"CommandError: clean_generated_media failed: cannot open generated media root "
        f"{not_a_folder}: Not a directory"
    )
    assert "Traceback" not in done.stderr


def test_real_process_with_the_database_unreachable_deletes_warns_once_and_exits_3(
    manage_env: dict[str, str], tmp_path: Path
) -> None:
    """The history is bookkeeping: the files go, one WARNING says the record did not."""
    root = tmp_path / "media"
    root.mkdir()
    old = root / "old.png"
    old.write_bytes(b"x")
    mtime = time.time() - 30 * 86400
    os.utime(old, (mtime, mtime))
    unreachable = {**manage_env, "DATABASE_URL": f"sqlite:///{tmp_path}/no-such-dir/db.sqlite3"}

    done = manage(unreachable, root, "--json")

    assert done.returncode == 3
    summary = json.loads(done.stdout)
    assert (summary["deleted"], summary["completed"], summary["recorded"]) == (1, True, False)
    assert not old.exists()
    assert "Traceback" not in done.stderr
    loud = [line for line in done.stderr.splitlines() if "| INFO " not in line]
    assert len(loud) == 1
    assert " | WARNING  | " in loud[0]
    assert loud[0].endswith(
        "could not write the run history of clean_generated_media: "
        "OperationalError: unable to open database file"
    )
