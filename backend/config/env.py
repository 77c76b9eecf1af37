"""Every setting that comes from the environment, read and checked before any work.

environs reads the variables, deferred, so that every bad one is collected and all are
named in one line. Most values go through parsers of our own, registered with environs:
its int is Python's `int()`, which accepts ' 7 ', '5_000', '+3' and an Arabic-Indic
five, and its URL and path fields know nothing of this project's bounds (a writable log
folder, an installed database engine).
"""

import importlib
import os
import re
import sys
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from environs import Env, EnvValidationError, ValidationError

from config.hosts import parse_media_hosts

BASE_DIR = Path(__file__).resolve().parent.parent  # backend/
VAR_DIR = BASE_DIR / "var"
DEV_SECRET_KEY = "django-insecure-dev-key-change-me-in-production"
DAYS = {"minimum": 1, "maximum": 3650, "unit": "days"}
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
DATABASE_ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
# ALLOWED_HOSTS entries: a name or IPv4 (".name" takes subdomains too), [IPv6], or "*".
_HOST = re.compile(r"\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\]")
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_SHOWN_CHARS = 200


class SettingsError(ImproperlyConfigured):
    """One line naming each bad variable, its value and what is allowed."""


def whole_number(raw: str, *, minimum: int, maximum: int, unit: str) -> int:
    """ASCII digits only (no sign, space, '_' or another script's digits), within bounds."""
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum)):
        value = int(raw)
        if minimum <= value <= maximum:
            return value
    raise ValidationError(f"a whole number of {unit} from {minimum:,} to {maximum:,}")


def level_name(raw: str) -> str:
    """A loguru level name, in any case."""
    if raw.upper() in LOG_LEVELS:
        return raw.upper()
    raise ValidationError(f"one of {', '.join(LOG_LEVELS)}")


def writable_folder(raw: str) -> Path:
    """A writable folder, or one that can be made inside the nearest existing folder."""
    if not raw:
        raise ValidationError("a writable folder")
    existing = Path(raw)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValidationError(f"a writable folder ({existing} is not a folder)")
    if not _is_writable(existing):
        raise ValidationError(f"a writable folder ({existing} is not writable)")
    return Path(raw)


def _is_writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK)


def folder(raw: str) -> Path:
    """A non-empty path; the code that uses it judges the rest."""
    if raw:
        return Path(raw)
    raise ValidationError("a folder")


def database_config(raw: str) -> dict[str, Any]:
    """Django's DATABASES entry for a dj-database-url URL of an installed engine and a name."""
    allowed = "a database URL: sqlite:///PATH or postgres://USER:PASSWORD@HOST:PORT/NAME"
    try:
        config = dj_database_url.parse(raw)
    except ValueError:
        raise ValidationError(allowed) from None
    if config["ENGINE"] not in DATABASE_ENGINES or not config["NAME"]:
        raise ValidationError(allowed)
    return config


def scheme_url(raw: str) -> str:
    """A URL with a scheme, without spaces (a Celery broker or result backend)."""
    if _URL.fullmatch(raw):
        return raw
    raise ValidationError("a URL such as redis://HOST:6379/0")


def host_names(raw: str) -> list[str]:
    """Comma-separated host names for ALLOWED_HOSTS, none empty."""
    names = raw.split(",")
    if all(_HOST.fullmatch(name) for name in names):
        return names
    raise ValidationError("comma-separated host names, IPs or *, none empty")


def non_empty(raw: str) -> str:
    """Any string but the empty one."""
    if raw:
        return raw
    raise ValidationError("a non-empty value")


def media_hosts(raw: str) -> tuple[str, ...]:
    """Web host names for per-host media entries and queues (config/hosts.py)."""
    try:
        return parse_media_hosts(raw)
    except ValueError as error:
        raise ValidationError(
            "comma-separated host names (letters, digits, '-' and '_', at most 63 "
            f"characters), none twice: {error}"
        ) from None


def name_list(raw: str) -> tuple[str, ...]:
    """Comma-separated names; empty ones are dropped."""
    return tuple(name for name in raw.split(",") if name)


_PARSERS = (
    whole_number,
    level_name,
    writable_folder,
    folder,
    database_config,
    scheme_url,
    host_names,
    non_empty,
    media_hosts,
    name_list,
)
_BOOLEAN = {"error_messages": {"invalid": "1/0, true/false, yes/no or on/off"}}


def read_environment() -> dict[str, Any]:
    """Every setting from the environment, parsed; raise SettingsError naming each bad one."""
    env = Env(eager=False)
    for parser in _PARSERS:
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
            "TOKEN_CLEANUP_BATCH_SIZE", "5000", minimum=1, maximum=100_000, unit="rows"
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


def exit_on_bad_settings() -> None:
    """Import the settings module; a bad setting ends the process: its one line, exit 2."""
    try:
        importlib.import_module(os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"))
    except SettingsError as error:
        sys.stderr.write(f"{error}\n")
        raise SystemExit(2) from None
