"""Settings come from the environment, and the defaults need no server (bounds: test_env.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2] / "backend"

_PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
from config.celery import app
print(json.dumps({
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "broker": app.conf.broker_url,
    "backend": app.conf.result_backend,
    "media_root": str(settings.GENERATED_MEDIA_ROOT),
    "max_age": settings.GENERATED_MEDIA_MAX_AGE_DAYS,
    "margin": settings.TOKEN_CLEANUP_SAFETY_MARGIN_DAYS,
    "batch": settings.TOKEN_CLEANUP_BATCH_SIZE,
    "debug": settings.DEBUG,
    "secret": settings.SECRET_KEY,
    "log_dir": str(settings.LOG_DIR),
    "log_level": settings.LOG_LEVEL,
    "log_json": settings.LOG_JSON,
    "tz": settings.TIME_ZONE,
    "celery_tz": app.conf.timezone,
    "enable_utc": app.conf.enable_utc,
}))
"""

_VARIABLES = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "GENERATED_MEDIA_ROOT",
    "GENERATED_MEDIA_MAX_AGE_DAYS",
    "TOKEN_CLEANUP_SAFETY_MARGIN_DAYS",
    "TOKEN_CLEANUP_BATCH_SIZE",
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "LOG_DIR",
    "LOG_LEVEL",
    "LOG_JSON",
)


def _settings_in_subprocess(tmp_path: Path, **overrides: str) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if k not in _VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", **overrides)
    env.setdefault("LOG_DIR", str(tmp_path / "logs"))
    done = subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_defaults_need_no_server(tmp_path: Path) -> None:
    values, stderr = _settings_in_subprocess(tmp_path)
    assert values["db_engine"] == "django.db.backends.sqlite3"
    assert values["db_name"] == str(BACKEND / "db.sqlite3")
    assert values["broker"] == "filesystem://localhost//"
    assert values["backend"] == f"db+sqlite:///{BACKEND / 'var' / 'celery-results.sqlite3'}"
    assert values["media_root"] == str(BACKEND / "generated_media")
    assert (values["max_age"], values["margin"], values["batch"]) == (7, 7, 20000)
    assert values["debug"] is False
    assert values["log_level"] == "INFO"
    assert values["log_json"] is False
    assert stderr == ""  # quiet: no dev-key warning (a worker or web server gives it), no kombu
    assert (values["tz"], values["celery_tz"], values["enable_utc"]) == ("UTC", "UTC", True)


def test_environment_overrides_every_default(tmp_path: Path) -> None:
    values, stderr = _settings_in_subprocess(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/example",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/3",
        CELERY_RESULT_BACKEND="redis://127.0.0.1:6379/4",
        GENERATED_MEDIA_ROOT=str(tmp_path / "media"),
        GENERATED_MEDIA_MAX_AGE_DAYS="3",
        TOKEN_CLEANUP_SAFETY_MARGIN_DAYS="0",
        TOKEN_CLEANUP_BATCH_SIZE="50",
        DJANGO_SECRET_KEY="s3cret",
        DJANGO_DEBUG="1",
        LOG_DIR=str(tmp_path / "elsewhere"),
        LOG_LEVEL="debug",
        LOG_JSON="true",
    )
    assert values["db_engine"] == "django.db.backends.postgresql"
    assert values["db_name"] == "example"
    assert values["broker"] == "redis://127.0.0.1:6379/3"
    assert values["backend"] == "redis://127.0.0.1:6379/4"
    assert values["media_root"] == str(tmp_path / "media")
    assert (values["max_age"], values["margin"], values["batch"]) == (3, 0, 50)
    assert values["debug"] is True
    assert values["secret"] == "s3cret"
    assert "DJANGO_SECRET_KEY is not set" not in stderr
    assert values["log_dir"] == str(tmp_path / "elsewhere")
    assert (values["log_level"], values["log_json"]) == ("DEBUG", True)


_FOLDERS_MADE = """
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
def made():
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))
import config.settings
steps = [made()]
import django
django.setup()
steps.append(made())
from config.celery import app
app.conf.broker_url
steps.append(made())
print(json.dumps(steps))
"""


def test_importing_the_settings_makes_nothing_setup_and_celery_make_their_folders(
    tmp_path: Path,
) -> None:
    root = tmp_path / "made"
    root.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_DIR=str(root / "logs"),
        CELERY_BROKER_FOLDER=str(root / "broker"),
        CELERY_RESULT_BACKEND=f"db+sqlite:///{root / 'results' / 'results.sqlite3'}",
    )
    done = subprocess.run(
        [sys.executable, "-c", _FOLDERS_MADE, str(root)],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    on_import, on_setup, on_celery = json.loads(done.stdout.strip().splitlines()[-1])
    assert on_import == []
    assert on_setup == ["logs", "logs/backend.log"]  # LOGGING_CONFIG, once
    broker = ["broker", "broker/control", "broker/processed", "broker/queue"]
    assert on_celery == sorted([*broker, "logs", "logs/backend.log", "results"])
