"""Every command in the README's and both guides' bash blocks runs as written, in the
place they say: `make …` from the repository root, the rest from `backend/` with the
virtualenv active (`source .venv/bin/activate && cd backend`), on the embedded defaults
in private folders, against the worker `make run` starts.

Substituted, and only this: `<task-id>` by the id the last `celery … call` printed,
`[--dry-run] [--json]` by a run without and a run with both options, and the web server's
127.0.0.1:8000 by the free port `make web` is given (another process may hold 8000).
The transcript is printed (`pytest -s`) and kept in the test's folder.
"""

import contextlib
import os
import re
import subprocess
from pathlib import Path

import psutil
import pytest

from tests.live.processes import ProcessRegistry, free_port, wait_for

pytestmark = [pytest.mark.live, pytest.mark.soak, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    REPO / "README.md",
    REPO / "docs" / "periodic-tasks.md",
    REPO / "docs" / "periodic-tasks.ru.md",
]
BLOCK = re.compile(r"^( *)```bash\n(.*?)^\1```", re.S | re.M)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NOT_RUN = {
    "make test": "the suite this test is part of",
    "cd backend": "the folder every other command here runs in",
    "source .venv/bin/activate && cd backend": "what this test does for every command",
}
# Long-running: started as written, checked, stopped.
SERVERS = {
    "make run",
    "make flower",
    "celery -A config flower",
    "celery -A config worker -Q media.web1 --hostname=media@web1 --concurrency=1",
}
# What each one-shot command prints when it works (its exit status must be 0 too).
EXPECTED = [
    (re.compile(r"celery -A config call "), UUID),
    (re.compile(r"celery -A config result "), re.compile(r"'dry_run': (True|False)")),  # a summary
    (re.compile(r"celery -A config inspect ping"), re.compile(r"pong")),
    (re.compile(r"manage.py clean_generated_media"), re.compile(r"deleted")),
    (re.compile(r"manage.py clean_blacklisted_tokens"), re.compile(r"expired")),
    (
        re.compile(r"manage.py maintenance_health"),
        re.compile(r"clean_generated_media .* (OK|PENDING)"),
    ),
    (re.compile(r"manage.py maintenance_schedule"), re.compile(r"clean-generated-media-weekly")),
    (re.compile(r"^curl -i "), re.compile(r"HTTP/1.1 200 OK")),
]


def guide_commands() -> list[str]:
    """Every command line of every bash block, trailing comments removed, in order, once."""
    found: list[str] = []
    for doc in DOCS:
        for _indent, block in BLOCK.findall(doc.read_text()):
            for line in block.splitlines():
                command = re.sub(r"\s+#\s.*$", "", line.strip())
                if command and not command.startswith("#") and command not in found:
                    found.append(command)
    return found


def _variants(command: str) -> list[str]:
    if "[--dry-run] [--json]" not in command:
        return [command]
    return [
        command.replace(" [--dry-run] [--json]", ""),
        command.replace("[--", "--").replace("]", ""),
    ]


def test_every_command_of_the_guides_runs_as_written(
    live_processes: ProcessRegistry, tmp_path: Path
) -> None:
    web = f"127.0.0.1:{free_port()}"
    flower_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "FLOWER_", "MAKE"))}
    env.update(
        VIRTUAL_ENV=str(REPO / ".venv"),  # what `source .venv/bin/activate` sets
        PATH=f"{REPO / '.venv' / 'bin'}:{env['PATH']}",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_BROKER_FOLDER=str(tmp_path / "broker"),
        CELERY_RESULT_BACKEND=f"db+sqlite:///{tmp_path / 'results.sqlite3'}",
        GENERATED_MEDIA_ROOT=str(tmp_path / "generated_media"),
        LOG_DIR=str(tmp_path / "logs"),
        SCHEDULE=str(tmp_path / "celerybeat-schedule"),
        WEB_ADDRESS=web,
        FLOWER_PORT=str(flower_port),
    )
    (tmp_path / "generated_media").mkdir(exist_ok=True)  # the autouse media_root made it
    transcript: list[str] = []
    commands = guide_commands()
    unknown = [
        c
        for c in commands
        if c not in NOT_RUN and c not in SERVERS and not any(p.search(c) for p, _ in EXPECTED)
    ]
    assert unknown == [], "commands this test does not know how to run"

    def start(command: str, log: str) -> subprocess.Popen:
        cwd = REPO if command.startswith("make ") else REPO / "backend"
        argv = ["bash", "-c", command]
        return live_processes.start(argv, env=env, log=tmp_path / log, cwd=cwd)

    def run(command: str) -> str:
        done = _bash(command, env, timeout_s=120)
        output = done.stdout + done.stderr
        transcript.append(f"$ {command}\n{output}(exit status {done.returncode})\n")
        assert done.returncode == 0, transcript[-1]
        return output

    worker = start("make run", "make-run.log")
    wait_for(
        lambda: "pong" in _answer("celery -A config inspect ping", env),
        timeout_s=90,
        what="make run",
    )
    web_server = live_processes.start(
        ["make", "web"], env=env, log=tmp_path / "make-web.log", cwd=REPO
    )
    wait_for(
        lambda: "200 OK" in _answer(f"curl -si http://{web}/api/health/maintenance/", env),
        timeout_s=90,
        what="make web",
    )
    task_id = ""
    try:
        for command in commands:
            if command in NOT_RUN or command in SERVERS:
                continue
            for variant in _variants(command):
                written = variant.replace("<task-id>", task_id).replace("127.0.0.1:8000", web)
                output = run(written)
                expected = next(e for p, e in EXPECTED if p.search(variant))
                assert expected.search(output), transcript[-1]
                if " call " in variant:
                    task_id = UUID.search(output).group(0)
        for command in sorted(SERVERS - {"make run"}):
            server = start(command, "server.log")
            if "flower" in command:
                check = f"curl -si http://127.0.0.1:{flower_port}/healthcheck"
                wait_for(lambda c=check: "200 OK" in _answer(c, env), timeout_s=90, what=command)
            else:
                check = "celery -A config inspect ping -d media@web1"
                wait_for(lambda c=check: "pong" in _answer(c, env), timeout_s=90, what=command)
            transcript.append(f"$ {command}\n(answered: {check})\n")
            _stop(live_processes, server)
        transcript.append("$ make run\n(answered: celery -A config inspect ping)\n")
    finally:
        _stop(live_processes, web_server)
        _stop(live_processes, worker)
        (tmp_path / "transcript.txt").write_text("\n".join(transcript))
        print("\n".join(transcript))


def _answer(command: str, env: dict[str, str]) -> str:
    """What a readiness check prints ("" when it hangs)."""
    try:
        done = _bash(command, env, timeout_s=60)
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout + done.stderr


def _bash(command: str, env: dict[str, str], *, timeout_s: float) -> subprocess.CompletedProcess:
    """Run one guide command in bash from backend/, as an operator types it there."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=REPO / "backend",
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _stop(processes: ProcessRegistry, leader: subprocess.Popen) -> None:
    """Stop a `make` (or shell) and every process of its group, and wait until they are gone:
    make exits first, the worker or server it started a moment later."""
    processes.stop(leader, grace_s=15)

    def gone() -> bool:
        for candidate in psutil.process_iter():
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if os.getpgid(candidate.pid) == leader.pid and candidate.status() != "zombie":
                    return False
        return True

    wait_for(gone, timeout_s=15, what=f"process group {leader.pid} to exit")
