#!/usr/bin/env python
"""Run mutmut 3 over the maintenance logic and print one line: the mutation score.

mutmut 3 expects the code under `./`, `src/` or `source/`; with `pythonpath = backend`
it records module names that match no mutant and stops early. So this script stages
`backend/*`, `tests/` and the pytest configuration into a scratch workspace
(`.mutation/`) with the packages at its root, runs `mutmut run` there, and reads the
verdicts from `mutmut results`.

Usage: python scripts/mutation.py   (or `make mutation`)
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORKSPACE = REPO / ".mutation"

# What is mutated: the cleanup logic, the task wrappers, and the beat schedule.
MUTATED = [
    "maintenance/media.py",
    "maintenance/tokens.py",
    "maintenance/tasks.py",
    "maintenance/runs.py",
    "config/celery.py",
]
# The tests that judge the mutants: everything that runs in-process. The live suite
# (worker subprocesses) and tests that shell out to manage.py cannot see a mutant.
TEST_SELECTION = ["tests/maintenance", "tests/config", "-m", "not live"]

PYTEST_INI = """[pytest]
DJANGO_SETTINGS_MODULE = config.settings
pythonpath = .
addopts = -p no:randomly -p no:cacheprovider -q
markers =
{markers}
filterwarnings =
    ignore::DeprecationWarning
    ignore:DJANGO_SECRET_KEY is not set:UserWarning
"""

PYPROJECT = """[tool.mutmut]
source_paths = {sources}
pytest_add_cli_args_test_selection = {selection}
also_copy = ["conftest.py", "pytest.ini", "generated_media", "manage.py", "flowerconfig.py",
             "config", "maintenance", "backend"]
"""


def stage() -> None:
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    WORKSPACE.mkdir()
    backend = REPO / "backend"
    for name in ("config", "maintenance"):
        shutil.copytree(
            backend / name, WORKSPACE / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("manage.py", "flowerconfig.py"):
        shutil.copy2(backend / name, WORKSPACE / name)
    (WORKSPACE / "generated_media").mkdir()
    # An unmutated copy for tests that run `backend/manage.py` in a subprocess: they
    # cannot see a mutant, but they must still find the files where they expect them.
    shutil.copytree(
        backend,
        WORKSPACE / "backend",
        ignore=shutil.ignore_patterns("__pycache__", "var", "logs", "*.sqlite3"),
    )
    shutil.copytree(REPO / "tests", WORKSPACE / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "conftest.py", WORKSPACE / "conftest.py")
    markers = _registered_markers()
    (WORKSPACE / "pytest.ini").write_text(PYTEST_INI.format(markers=markers))
    (WORKSPACE / "pyproject.toml").write_text(
        PYPROJECT.format(sources=_toml_list(MUTATED), selection=_toml_list(TEST_SELECTION))
    )


def _registered_markers() -> str:
    text = (REPO / "pytest.ini").read_text()
    block = re.search(r"^markers =\n((?:[ \t]+.*\n)+)", text, re.M)
    return block.group(1).rstrip("\n") if block else ""


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def run() -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": "."}
    env.pop("CI", None)
    mutmut = [str(Path(sys.executable).parent / "mutmut")]
    done = subprocess.run([*mutmut, "run"], cwd=WORKSPACE, env=env, check=False)
    results = subprocess.run(
        [*mutmut, "results", "--all", "true"],
        cwd=WORKSPACE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    verdicts: dict[str, list[str]] = {}
    for line in results.stdout.splitlines():
        match = re.match(r"\s*(\S+): (\S+.*)$", line)
        if match:
            verdicts.setdefault(match.group(2), []).append(match.group(1))
    total = sum(len(names) for names in verdicts.values())
    killed = len(verdicts.get("killed", []))
    for verdict, names in sorted(verdicts.items()):
        if verdict != "killed":
            print(f"{verdict}: {len(names)}")
            for name in names:
                print(f"    {name}")
    if total == 0:
        print("mutation score: no mutants were run", file=sys.stderr)
        return 1
    print(f"mutation score: {100 * killed / total:.1f}% (killed {killed} of {total})")
    return done.returncode


if __name__ == "__main__":
    stage()
    sys.exit(run())
