#!/usr/bin/env python
"""Run mutmut over the maintenance logic and print one line: the mutation score.

Custom, because mutmut 3.8.1's public CLI cannot do two parts of the job (docs/mutation.md):
it names a mutant's module by its path from the working directory, stripping only `src.`,
so `backend/` is staged into `.mutation/` with the packages at its root; and it mutates only
undecorated function bodies, so a second phase mutates module-level code (the beat schedule,
task options, `@shared_task` bodies) with mutmut's own operators from its private
`mutmut.mutation` modules: mutmut is pinned, and an upgrade must re-check those imports.

Usage: python scripts/mutation.py   (or `make mutation`)
"""

import difflib
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider
from mutmut.mutation.mutators import mutation_operators
from mutmut.mutation.pragma_handling import PragmaVisitor

REPO = Path(__file__).resolve().parent.parent
WORKSPACE = REPO / ".mutation"

# What is mutated: the cleanup logic, the tasks and their recorded runs, the beat schedule.
MUTATED = [
    "maintenance/media/",
    "maintenance/tokens.py",
    "maintenance/token_exp.py",
    "maintenance/token_sql.py",
    "maintenance/tasks.py",
    "maintenance/recording.py",
    "config/celery.py",
]
# The tests that judge the mutants: everything that runs in-process. The live suite
# (worker subprocesses) and tests that shell out to manage.py cannot see a mutant.
# Two cores on the shared machine: one mutant per core.
CHILDREN = int(os.environ.get("MUTATION_CHILDREN", "2"))
TEST_SELECTION = ["tests/maintenance", "tests/config", "-m", "not live"]

# Phase 2: module-level code (and decorated functions), with the tests that judge each
# file (the ones that read its constants, the schedule, the task options and the logging
# hook), most specific first: `-x` stops at the first failure, so a killed mutant costs
# little more than pytest's start-up (~5 s); a survivor runs them all.
MODULE_LEVEL = {
    "config/celery.py": [
        "tests/config/test_celery.py",
        "tests/config/test_schedule.py",
        "tests/config/test_logs.py",
        "tests/config/test_broker.py",
        "tests/config/test_shutdown.py",
        "tests/config/test_beat.py",
        "tests/config/test_secret_key.py",
    ],
    "maintenance/tasks.py": [
        "tests/maintenance/test_tasks_retry.py",
        "tests/maintenance/test_tasks.py",
        "tests/maintenance/test_tasks_redaction.py",
        "tests/maintenance/test_history.py",
        "tests/maintenance/test_once.py",
        "tests/maintenance/test_progress.py",
        "tests/maintenance/test_media_root.py",
        "tests/config/test_celery.py",
    ],
}
MODULE_LEVEL_TIMEOUT_S = 300
DETECTED = ("killed", "timeout", "segfault")

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
also_copy = ["conftest.py", "pytest.ini", "README.md", "generated_media", "manage.py",
             "flowerconfig.py", "config", "maintenance", "backend"]
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
    shutil.copytree(
        REPO / "tests", WORKSPACE / "tests", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("conftest.py", "README.md"):  # README: the schedule test reads it
        shutil.copy2(REPO / name, WORKSPACE / name)
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


def run_mutmut(env: dict[str, str]) -> tuple[int, dict[str, list[str]]]:
    """Phase 1: `mutmut run` over the function bodies; return its exit code and verdicts."""
    mutmut = [str(Path(sys.executable).parent / "mutmut")]
    done = subprocess.run(
        [*mutmut, "run", "--max-children", str(CHILDREN)], cwd=WORKSPACE, env=env, check=False
    )
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
    return done.returncode, verdicts


@dataclass
class ModuleMutant:
    name: str
    path: str  # relative to the workspace
    code: str  # the whole mutated file
    diff: str


class _ModuleLevelVisitor(cst.CSTVisitor):
    """Collect mutmut's mutations of every node outside the functions mutmut itself mutates."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, skipped_lines: set[int]) -> None:
        super().__init__()
        self.skipped_lines = skipped_lines
        self.found: list[tuple[cst.CSTNode, cst.CSTNode]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.FunctionDef) and not node.decorators:
            return False  # phase 1 (mutmut's trampolines) covers its body
        if isinstance(node, (cst.Import, cst.ImportFrom, cst.Annotation)):
            return False
        position = self.get_metadata(PositionProvider, node, None)
        if position and position.start.line in self.skipped_lines:
            return True
        for kind, operator in mutation_operators:
            if isinstance(node, kind):
                self.found.extend((node, mutated) for mutated in operator(node))
        return True


def module_level_mutants(path: str) -> list[ModuleMutant]:
    source = (WORKSPACE / path).read_text()
    wrapper = MetadataWrapper(cst.parse_module(source))
    pragmas = PragmaVisitor(path)  # honours `# pragma: no mutate`, as mutmut does
    wrapper.visit(pragmas)
    visitor = _ModuleLevelVisitor(pragmas.no_mutate_lines | pragmas.ignore_node_lines)
    wrapper.visit(visitor)
    module_name = path.removesuffix(".py").replace("/", ".")
    mutants = []
    for number, (node, mutated) in enumerate(visitor.found, start=1):
        code = wrapper.module.deep_replace(node, mutated).code
        if code == source:
            continue
        diff = "".join(
            difflib.unified_diff(
                source.splitlines(keepends=True), code.splitlines(keepends=True), path, path, n=0
            )
        )
        mutants.append(ModuleMutant(f"{module_name}.module_level__{number}", path, code, diff))
    return mutants


def run_module_level(env: dict[str, str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Phase 2: each module-level mutant judged by a fresh pytest run in its own copy."""
    mutants = [m for path in MODULE_LEVEL for m in module_level_mutants(path)]
    copies = []
    for slot in range(CHILDREN):
        copy = WORKSPACE / "module_level" / f"w{slot}"
        shutil.copytree(
            WORKSPACE,
            copy,
            ignore=shutil.ignore_patterns(
                "mutants", "module_level", "pyproject.toml", "__pycache__"
            ),
        )
        copies.append(copy)
    free = list(copies)
    env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}

    def judge(mutant: ModuleMutant) -> str:
        copy = free.pop()
        target = copy / mutant.path
        original = target.read_text()
        try:
            target.write_text(mutant.code)
            try:
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        "-x",
                        "-q",
                        "-p",
                        "no:randomly",
                        *MODULE_LEVEL[mutant.path],
                        "-m",
                        "not live",
                    ],
                    cwd=copy,
                    env=env,
                    capture_output=True,
                    timeout=MODULE_LEVEL_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return "timeout"
            return {0: "survived", 1: "killed", 2: "killed", 5: "no tests"}.get(
                done.returncode, f"suspicious (pytest exit {done.returncode})"
            )
        finally:
            target.write_text(original)
            free.append(copy)

    started = time.monotonic()
    print(f"module level: {len(mutants)} mutants of {', '.join(MODULE_LEVEL)}", flush=True)
    outcomes = []
    with ThreadPoolExecutor(max_workers=CHILDREN) as pool:
        for done, (mutant, verdict) in enumerate(
            zip(mutants, pool.map(judge, mutants), strict=True), start=1
        ):
            outcomes.append(verdict)
            if verdict != "killed":
                print(f"    {mutant.name}: {verdict}", flush=True)
            if done % 20 == 0:
                print(
                    f"    {done}/{len(mutants)} in {time.monotonic() - started:.0f} s", flush=True
                )
    verdicts: dict[str, list[str]] = {}
    for mutant, verdict in zip(mutants, outcomes, strict=True):
        verdicts.setdefault(verdict, []).append(mutant.name)
    print(f"module level: done in {time.monotonic() - started:.0f} s", flush=True)
    return verdicts, {m.name: m.diff for m in mutants}


def run() -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": "."}
    env.pop("CI", None)
    returncode, verdicts = run_mutmut(env)
    module_verdicts, diffs = run_module_level(env)
    for verdict, names in module_verdicts.items():
        verdicts.setdefault(verdict, []).extend(names)
    total = sum(len(names) for names in verdicts.values())
    # A mutant that hangs the tests or crashes their process was caught as surely as one
    # that fails an assertion: it counts as killed, and is listed by its verdict.
    killed = sum(len(verdicts.get(verdict, [])) for verdict in DETECTED)
    for verdict, names in sorted(verdicts.items()):
        if verdict != "killed":
            print(f"{verdict}: {len(names)}")
            for name in names:
                print(f"    {name}")
                if name in diffs:
                    print("        " + diffs[name].rstrip("\n").replace("\n", "\n        "))
    if total == 0:
        print("mutation score: no mutants were run", file=sys.stderr)
        return 1
    print(f"mutation score: {100 * killed / total:.1f}% (killed {killed} of {total})")
    return returncode


if __name__ == "__main__":
    stage()
    sys.exit(run())
