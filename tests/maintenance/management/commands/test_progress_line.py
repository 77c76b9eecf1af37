"""A live progress line on a terminal (a real pseudo-terminal), nothing of it in a pipe or
with --json: `manage.py clean_generated_media` in a real process."""

import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from django.core.management import call_command

BACKEND = Path(__file__).resolve().parents[4] / "backend"
FILES = 5000  # over media.sweep.PROGRESS_EVERY (4096), so the walk reports once mid-folder


@pytest.fixture
def old_files(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    old = time.time() - 30 * 86400
    for i in range(FILES):
        path = root / f"{i}.png"
        path.write_bytes(b"x")
        os.utime(path, (old, old))
    return root


def command(env: dict[str, str], root: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    return (
        [sys.executable, "manage.py", "clean_generated_media", *args],
        {**env, "GENERATED_MEDIA_ROOT": str(root)},
    )


def on_a_terminal(env: dict[str, str], root: Path, *args: str) -> str:
    """Everything the command wrote to its terminal (stdout on a 200-column pty)."""
    argv, env = command(env, root, *args)
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    with subprocess.Popen(
        argv, cwd=BACKEND, env=env, stdout=child, stderr=subprocess.DEVNULL
    ) as process:
        os.close(child)
        written = b""
        while True:
            try:
                chunk = os.read(parent, 65536)
            except OSError:  # EIO: the command exited and the terminal closed
                break
            if not chunk:
                break
            written += chunk
        assert process.wait(timeout=60) == 0
    os.close(parent)
    return written.decode()


def test_on_a_terminal_a_progress_line_is_drawn_then_cleared(
    manage_env: dict[str, str], old_files: Path
) -> None:
    screen = on_a_terminal(manage_env, old_files)
    progress, _, summary = screen.partition("root ")  # the summary's first line
    assert "scanned 4,096 · deleted " in progress
    assert "/s · 00:0" in progress
    assert "\n" not in progress  # redrawn in place, never a new line
    assert progress.endswith("\r")  # and blanked before the summary
    assert re.search(rf"\r\ndeleted +{FILES}\r\n", summary)
    assert "·" not in summary
    assert list(old_files.iterdir()) == []


def test_into_a_pipe_only_the_summary(manage_env: dict[str, str], old_files: Path) -> None:
    argv, env = command(manage_env, old_files)
    done = subprocess.run(argv, cwd=BACKEND, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "·" not in done.stdout + done.stderr
    assert "\r" not in done.stdout
    keys = [line.split()[0] for line in done.stdout.splitlines()]
    assert keys[:3] == ["root", "scanned", "deleted"]  # one "key  value" line per field
    assert len(keys) == len(set(keys))
    assert re.search(rf"\ndeleted +{FILES}\n", done.stdout)


def test_on_a_terminal_with_json_only_the_json(manage_env: dict[str, str], old_files: Path) -> None:
    screen = on_a_terminal(manage_env, old_files, "--json", "--dry-run")
    assert "·" not in screen
    assert json.loads(screen)["deleted"] == FILES


class Terminal(io.StringIO):
    """An in-memory stream that says it is a terminal, as a pty's end would."""

    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
def test_in_process_the_line_goes_to_the_terminal_under_djangos_wrapper(
    tmp_path: Path, settings: object
) -> None:
    root = tmp_path / "terminal"
    root.mkdir()
    old = time.time() - 30 * 86400
    for name in ("a.png", "b.png"):
        (root / name).write_bytes(b"x")
        os.utime(root / name, (old, old))
    settings.GENERATED_MEDIA_ROOT = root
    screen = Terminal()
    call_command("clean_generated_media", stdout=screen)
    progress, _, summary = screen.getvalue().partition("root ")
    assert "scanned 2 · deleted 2 · " in progress  # the root folder done: one report
    assert progress.endswith("\r")
    assert re.search(r"\ndeleted +2\n", summary)
