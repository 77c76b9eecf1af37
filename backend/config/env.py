"""Every setting that comes from the environment, read and checked before any work.

environs reads the variables, deferred, so that every bad one is collected and all are
named in one line; the values go through the parsers of config/parsers.py.
"""

import importlib
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from environs import Env, EnvValidationError

from config.parsers import PARSERS

BASE_DIR = Path(__file__).resolve().parent.parent  # backend/
VAR_DIR = BASE_DIR / "var"
DEV_SECRET_KEY = "django-insecure-dev-key-change-me-in-production"
DAYS = {"minimum": 1, "maximum": 3650, "unit": "days"}
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_SHOWN_CHARS = 200


class SettingsError(ImproperlyConfigured):
    """One line naming each bad variable, its value and what is allowed."""


_BOOLEAN = {"error_messages": {"invalid": "1/0, true/false, yes/no or on/off"}}


def read_environment() -> dict[str, Any]:
    """Every setting from the environment, parsed; raise SettingsError naming each bad one."""
    env = Env(eager=False)
    for parser in PARSERS:
        env.add_parser(parser.__name__, parser)
    values = {
        "DJANGO_SECRET_KEY": env.non_empty("DJANGO_SECRET_KEY", DEV_SECRET_KEY),
        "DJANGO_DEBUG": env.bool("DJANGO_DEBUG", False, **_BOOLEAN),
        "DJANGO_ALLOWED_HOSTS": env.host_names(
            "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver"
        ),
        "DATABASE_URL": env.database_config("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        "DATABASE_CONN_MAX_AGE": env.whole_number(
            "DATABASE_CONN_MAX_AGE", "0", minimum=0, maximum=86400, unit="seconds"
        ),
        # `localhost//` names the host kombu assumes anyway, so it does not warn about it.
        "CELERY_BROKER_URL": env.scheme_url("CELERY_BROKER_URL", "filesystem://localhost//"),
        "CELERY_BROKER_FOLDER": env.writable_folder(
            "CELERY_BROKER_FOLDER", str(VAR_DIR / "broker")
        ),
        "CELERY_EVENT_QUEUE_EXPIRES": env.whole_number(
            "CELERY_EVENT_QUEUE_EXPIRES", "60", minimum=1, maximum=86400, unit="seconds"
        ),
        "CELERY_CONTROL_QUEUE_EXPIRES": env.whole_number(
            "CELERY_CONTROL_QUEUE_EXPIRES", "10", minimum=1, maximum=86400, unit="seconds"
        ),
        "CELERY_RESULT_BACKEND": env.scheme_url(
            "CELERY_RESULT_BACKEND", f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}"
        ),
        "GENERATED_MEDIA_ROOT": env.folder(
            "GENERATED_MEDIA_ROOT", str(BASE_DIR / "generated_media")
        ),
        "GENERATED_MEDIA_MAX_AGE_DAYS": env.whole_number(
            "GENERATED_MEDIA_MAX_AGE_DAYS", "7", **DAYS
        ),
        "GENERATED_MEDIA_HOSTS": env.media_hosts("GENERATED_MEDIA_HOSTS", ""),
        "GENERATED_MEDIA_KEEP": env.name_list("GENERATED_MEDIA_KEEP", ".gitkeep"),
        "TOKEN_CLEANUP_SAFETY_MARGIN_DAYS": env.whole_number(
            "TOKEN_CLEANUP_SAFETY_MARGIN_DAYS", "7", **(DAYS | {"minimum": 0})
        ),
        "TOKEN_CLEANUP_BATCH_SIZE": env.whole_number(
            "TOKEN_CLEANUP_BATCH_SIZE", "20000", minimum=1, maximum=100_000, unit="rows"
        ),
        "MAINTENANCE_HISTORY_DAYS": env.whole_number("MAINTENANCE_HISTORY_DAYS", "90", **DAYS),
        "MAINTENANCE_RETRY_BACKOFF_S": env.whole_number(
            "MAINTENANCE_RETRY_BACKOFF_S", "5", minimum=0, maximum=3600, unit="seconds"
        ),
        "LOG_DIR": env.writable_folder("LOG_DIR", str(BASE_DIR / "logs")),
        "LOG_LEVEL": env.level_name("LOG_LEVEL", "INFO"),
        "LOG_JSON": env.bool("LOG_JSON", False, **_BOOLEAN),
        "FLOWER_BASIC_AUTH": os.environ.get("FLOWER_BASIC_AUTH", ""),
    }
    try:
        env.seal()
    except EnvValidationError as error:
        raise SettingsError(
            "; ".join(bad_value(name, messages) for name, messages in error.error_messages.items())
        ) from None
    return values


def bad_value(name: str, messages: list[str]) -> str:
    """`NAME='value' is invalid: expected ...`, with a URL's password and a long tail hidden."""
    shown = _PASSWORD_IN_URL.sub(r"\1***@", os.environ.get(name, ""))
    if len(shown) > _SHOWN_CHARS:
        shown = shown[:_SHOWN_CHARS] + "..."
    return f"{name}={shown!r} is invalid: expected {' and '.join(messages)}"


@contextmanager
def one_line_on_bad_settings() -> Iterator[None]:
    """A SettingsError raised inside ends the process: its one line on stderr, exit 2."""
    try:
        yield
    except SettingsError as error:
        sys.stderr.write(f"{error}\n")
        raise SystemExit(2) from None


def exit_on_bad_settings() -> None:
    """Import the settings module; a bad setting ends the process: its one line, exit 2."""
    with one_line_on_bad_settings():
        importlib.import_module(os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"))
