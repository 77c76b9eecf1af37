"""The parsers of the settings (config/env.py), registered with environs by their names.

environs' own int is Python's `int()`, which accepts ' 7 ', '5_000', '+3' and an
Arabic-Indic five, and its URL and path fields know nothing of this project's bounds (a
writable log folder, an installed database engine): hence these.
"""

import os
import re
from pathlib import Path
from typing import Any

import dj_database_url
from environs import ValidationError

from config.hosts import parse_media_hosts

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
DATABASE_ENGINES = ("django.db.backends.sqlite3", "django.db.backends.postgresql")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")
# ALLOWED_HOSTS entries: a name or IPv4 (".name" takes subdomains too), [IPv6], or "*".
_HOST = re.compile(r"\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\]")


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


PARSERS = (
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
