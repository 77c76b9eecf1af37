"""Layers point one way: `config` (the project) knows the app, the app never imports `config`."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "backend" / "maintenance"


def imported_modules(path: Path) -> list[str]:
    """Every module a file imports, at any depth of its code (function bodies too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def imports_of_config(path: Path) -> list[str]:
    return [name for name in imported_modules(path) if name.split(".")[0] == "config"]


@pytest.mark.parametrize(
    "path", sorted(APP.rglob("*.py")), ids=lambda path: str(path.relative_to(APP))
)
def test_no_module_of_the_app_imports_config(path: Path) -> None:
    assert imports_of_config(path) == []


def test_the_check_sees_an_import_of_config_at_any_depth(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        "import configparser\nimport config\n"
        "def f():\n    from config.logs import redact\n    import config.celery as c\n"
    )
    assert imports_of_config(module) == ["config", "config.logs", "config.celery"]
