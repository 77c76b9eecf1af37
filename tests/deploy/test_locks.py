"""`make run` installs requirements-runtime.lock only; `make test` and `make lint` install
requirements.lock, everything. The runtime lock is the runtime part of the full one: the
same pins, and every direct dependency of pyproject.toml with what it needs.
"""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pins(lock: str) -> dict[str, str]:
    lines = (ROOT / lock).read_text().split()
    return {_name(line.split("==")[0]): line for line in lines if "==" in line}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\[=<>~ ]", requirement)[0]).lower()


def test_the_runtime_lock_pins_what_the_full_lock_pins_for_every_dependency() -> None:
    runtime, full = _pins("requirements-runtime.lock"), _pins("requirements.lock")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert {name: runtime[name] for name in runtime} == {name: full[name] for name in runtime}
    assert {_name(dep) for dep in project["dependencies"]} <= set(runtime)
    dev_tools = {_name(dep) for group in project["optional-dependencies"].values() for dep in group}
    assert dev_tools.isdisjoint(runtime)  # pytest, ruff, mutmut... come with make test / lint
