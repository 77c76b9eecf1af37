"""SIGINT and SIGTERM sent to a real `manage.py clean_*` process in the middle of its run.

The run is made to be mid-way when the signal lands, without timing: the command logs at
DEBUG to a stderr pipe this test does not read until it has sent the signal, and the run
writes far more than a pipe holds (64 KiB), so it cannot end before the signal. Then the
pipe is drained, the command reaches its next poll and stops there.

Expected: exit 130 (SIGINT) or 143 (SIGTERM); besides its DEBUG/INFO log lines, one line on
stderr and no traceback; the summary on stdout says `completed: false`, `stop_reason:
interrupted`, `recorded: true`; the history row is `partial`; the work done before the
stop stays and nothing outside the cleanup's rule is touched.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from loguru import logger
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from maintenance import history
from maintenance.models import MaintenanceRun
from tests.factories import signed_refresh_token
from tests.live.stack import LiveStack

BACKEND = Path(__file__).resolve().parents[4] / "backend"
SIGNALS = pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
NOW = datetime.now(UTC)  # the subprocess runs on the real clock; ages stay far from any edge
EXPIRED, LIVE = NOW - timedelta(days=60), NOW + timedelta(days=60)
FOLDERS = 800  # old folders of one old file: each logs "removed directory ..." at DEBUG
FLAT_FILES = 4000  # old files in the root itself, a dry run: "would delete ..." at DEBUG
TOKENS = 400  # expired tokens, cleaned one per batch: each batch logs its SQL at DEBUG

ROUTINE_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| (DEBUG|INFO) ")

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory, django_db_blocker) -> Path:
    """One migrated SQLite file; each test works on its own copy."""
    stack = _stack(tmp_path_factory.mktemp("interrupt-template"))
    with django_db_blocker.unblock():
        stack.open_database()
        stack.close_database()
    return stack.root / "db.sqlite3"


@pytest.fixture
def database(migrated: Path, tmp_path: Path, django_db_blocker) -> Iterator[LiveStack]:
    """The SQLite file the command process uses, open here under its own alias."""
    shutil.copyfile(migrated, tmp_path / "db.sqlite3")
    stack = _stack(tmp_path)
    with django_db_blocker.unblock():
        stack.open_database()  # already migrated: a quick check
        yield stack
        stack.close_database()


def _stack(root: Path) -> LiveStack:
    return LiveStack(
        name=f"interrupt_{os.getpid()}",
        root=root,
        broker_url="memory://",
        result_backend="cache+memory://",
        database_url=f"sqlite:///{root / 'db.sqlite3'}",
    )


def interrupt(stack: LiveStack, signum: int, command: str, ready: str, *args: str, **env: str):
    """Run `command`, send `signum` once stderr shows `ready`, return (code, stdout, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", command, "--json", *args],
        cwd=BACKEND,
        env=stack.env | {"LOG_LEVEL": "DEBUG", "DJANGO_SECRET_KEY": "interrupt-test-key"} | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # raw pipes: communicate() reads the fd, so nothing may wait in a buffer
    )
    seen = []
    for line in process.stderr:  # only until the run is under way; byte by byte, unbuffered
        seen.append(line)
        if ready.encode() in line:
            break
    process.send_signal(signum)
    stdout, rest = process.communicate(timeout=90)
    return process.returncode, stdout.decode(), b"".join([*seen, rest]).decode()


def the_one_line(stderr: str) -> list[str]:
    """Stderr without its DEBUG and INFO log lines."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if not ROUTINE_LOG_LINE.match(line)]


def stopped_by(signum: int, task: str, code: int, stdout: str, stderr: str) -> dict:
    """Check the exit code, the one stderr line and the summary's state; return the summary."""
    assert code == 128 + signum
    assert the_one_line(stderr) == [
        f"CommandError: {task} interrupted by {signal.Signals(signum).name}: stopped early, "
        "the work done so far stays; the run is recorded as partial"
    ]
    summary = json.loads(stdout)
    assert (summary["completed"], summary["stop_reason"], summary["recorded"]) == (
        False,
        "interrupted",
        True,
    )
    return summary


def the_row(stack: LiveStack, task: str) -> MaintenanceRun:
    return MaintenanceRun.objects.using(stack.alias).get(task=task)


@SIGNALS
def test_an_interrupted_media_run_keeps_its_finished_folders_and_records_partial(
    database: LiveStack, signum: int
) -> None:
    media = database.media_root
    old = time.time() - 60 * 86400
    for index in range(FOLDERS):
        folder = media / f"d{index:04}"
        folder.mkdir(parents=True)
        (folder / "old.png").write_bytes(b"x")
        os.utime(folder / "old.png", (old, old))
        os.utime(folder, (old, old))
    young = [media / f"young{index}.png" for index in range(20)]
    for path in young:
        path.write_bytes(b"y")

    code, stdout, stderr = interrupt(database, signum, "clean_generated_media", "removed directory")

    summary = stopped_by(signum, "clean_generated_media", code, stdout, stderr)
    left = [folder for folder in media.iterdir() if folder.is_dir()]
    assert 0 < summary["dirs_removed"] == summary["deleted"] == FOLDERS - len(left)
    for folder in left:  # a folder is walked whole or not at all
        assert [entry.name for entry in folder.iterdir()] == ["old.png"]
    assert all(path.exists() for path in young)
    row = the_row(database, "clean_generated_media")
    assert (row.outcome, row.summary) == ("partial", summary)


def test_an_interrupted_dry_run_over_one_flat_folder_stops_between_entries(
    database: LiveStack,
) -> None:
    """Most media sits in the root itself; a dry run logs each file it would delete."""
    old = time.time() - 60 * 86400
    database.media_root.mkdir(parents=True, exist_ok=True)
    files = [database.media_root / f"{index:05}.png" for index in range(FLAT_FILES)]
    for path in files:
        path.write_bytes(b"x")
        os.utime(path, (old, old))

    code, stdout, stderr = interrupt(
        database, signal.SIGINT, "clean_generated_media", "would delete", "--dry-run"
    )

    summary = stopped_by(signal.SIGINT, "clean_generated_media", code, stdout, stderr)
    assert summary["dry_run"] is True
    assert 0 < summary["deleted"] < FLAT_FILES  # "would delete": it stopped inside the folder
    assert all(path.exists() for path in files)
    row = the_row(database, "clean_generated_media")
    assert (row.outcome, row.dry_run, row.summary) == ("partial", True, summary)


@SIGNALS
def test_an_interrupted_token_run_keeps_its_committed_batches_and_records_partial(
    database: LiveStack, signum: int
) -> None:
    alias = database.alias
    rows = []
    for index in range(TOKENS * 2):  # expired and live tokens, interleaved by id
        exp = EXPIRED if index % 2 == 0 else LIVE
        jti = f"jti-{index}"
        rows.append(
            OutstandingToken(
                jti=jti,
                token=signed_refresh_token(user_id=None, jti=jti, exp=exp),
                created_at=exp - timedelta(days=1),
                expires_at=exp,
            )
        )
    created = OutstandingToken.objects.using(alias).bulk_create(rows)
    BlacklistedToken.objects.using(alias).bulk_create(
        BlacklistedToken(token=token) for token in created
    )
    live_ids = {token.pk for token in created if token.expires_at == LIVE}

    code, stdout, stderr = interrupt(
        database,
        signum,
        "clean_blacklisted_tokens",
        "token_blacklist_outstandingtoken",
        DJANGO_DEBUG="1",  # Django logs each SQL statement at DEBUG
        TOKEN_CLEANUP_BATCH_SIZE="1",
    )

    summary = stopped_by(signum, "clean_blacklisted_tokens", code, stdout, stderr)
    remaining = set(OutstandingToken.objects.using(alias).values_list("pk", flat=True))
    gone = {token.pk for token in created} - remaining
    assert live_ids <= remaining  # no live token lost
    assert 0 < len(gone) == summary["outstanding_deleted"] == summary["blacklisted_deleted"]
    assert len(gone) < TOKENS  # it did stop early
    # Committed batches are a prefix in id order: every expired id below the stop is gone.
    assert gone == {pk for pk in {t.pk for t in created} - live_ids if pk <= max(gone)}
    blacklisted = set(BlacklistedToken.objects.using(alias).values_list("token_id", flat=True))
    assert blacklisted == remaining  # no orphan, and no blacklist row lost on its own
    row = the_row(database, "clean_blacklisted_tokens")
    assert (row.outcome, row.summary) == ("partial", summary)


@pytest.mark.parametrize("history_up", [True, False], ids=["recorded", "history-down"])
def test_in_process_a_signal_mid_walk_ends_the_command_with_its_exit_code(
    media_root: Path, monkeypatch: pytest.MonkeyPatch, history_up: bool
) -> None:
    """The same stop without a subprocess: the signal is sent from a log sink mid-walk."""
    old = time.time() - 60 * 86400
    for name in ("a", "b", "c"):
        (media_root / name).mkdir()
        os.utime(media_root / name, (old, old))
    if not history_up:
        monkeypatch.setattr(history, "record_run", _database_down)

    def signal_on_first_removal(message: object) -> None:
        if "removed directory" in str(message) and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    sent: list[bool] = []
    sink = logger.add(signal_on_first_removal, level="DEBUG")
    try:
        with pytest.raises(CommandError) as stopped:
            call_command("clean_generated_media", stdout=StringIO())
    finally:
        logger.remove(sink)

    record = "recorded as partial" if history_up else "not recorded"
    assert stopped.value.returncode == 130
    assert str(stopped.value) == (
        "clean_generated_media interrupted by SIGINT: stopped early, the work done so far "
        f"stays; the run is {record}"
    )
    assert len(list(media_root.iterdir())) == 2  # one folder done, two never walked
    rows = MaintenanceRun.objects.values_list("outcome", "summary__stop_reason")
    assert list(rows) == ([("partial", "interrupted")] if history_up else [])


def _database_down(**_kwargs: object) -> None:
    raise DatabaseError("database is down")


def test_a_signal_after_the_run_completed_changes_nothing(media_root: Path) -> None:
    """Sent while the row is written: the run finished, so it is `ok` and the command succeeds."""
    (media_root / "old.png").write_bytes(b"x")
    os.utime(media_root / "old.png", (time.time() - 60 * 86400,) * 2)

    def signal_when_recorded(message: object) -> None:
        if "maintenance run recorded" in str(message):
            os.kill(os.getpid(), signal.SIGTERM)

    sink = logger.add(signal_when_recorded, level="INFO")
    out = StringIO()
    try:
        call_command("clean_generated_media", "--json", stdout=out)
    finally:
        logger.remove(sink)

    summary = json.loads(out.getvalue())
    assert (summary["completed"], summary["stop_reason"], summary["deleted"]) == (True, "", 1)
    assert list(MaintenanceRun.objects.values_list("outcome", flat=True)) == ["ok"]
