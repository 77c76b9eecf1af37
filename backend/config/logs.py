"""One place for logging: loguru sinks, with stdlib logging (Django, Celery) routed in.

Django calls `configure` once, at setup (settings.LOGGING_CONFIG); the rules (sinks, JSON,
JWT redaction, why the file hangs on a stdlib handler): docs/periodic-tasks.md, "Logging".
"""

import inspect
import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Any

from loguru import logger

from config.env import SettingsError, one_line_on_bad_settings
from maintenance.redaction import redact

LOG_FILE_NAME = "backend.log"
ROTATION_BYTES = 20 * 1024 * 1024  # rotate backend.log at 20 MB...
RETENTION_FILES = 10  # ...and keep backend.log.1 to backend.log.10
TEXT_FORMAT = (
    "{time:YYYY-MM-DD HH:mm:ss.SSS!UTC} | {level: <8} | {name}:{function}:{line} - {message}"
)
# Holds the file's handler and logs nothing: embedded beat closes every descriptor that no
# stdlib handler holds (celery.beat's close_open_fds), the log file's too otherwise.
_FILE_HOLDER = logging.getLogger("config.logs.file")
_FILE_HOLDER.propagate = False


def _redact_record(record: dict) -> None:
    """Redact the message and the string values of `extra`, for every sink, ours or not."""
    record["message"] = redact(record["message"])
    for key, value in record["extra"].items():
        if isinstance(value, str):
            record["extra"][key] = redact(value)


class _Redacted:
    """A loguru sink that writes each message's final text to `stream`, JWTs redacted."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def write(self, message: str) -> None:
        self._stream.write(redact(message))

    def flush(self) -> None:
        self._stream.flush()


class InterceptHandler(logging.Handler):
    """Send stdlib `logging` records to loguru, keeping level and caller."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = inspect.currentframe(), 0
        while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame, depth = frame.f_back, depth + 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def configure(options: dict[str, Any]) -> None:
    """Django's LOGGING_CONFIG hook: `configure_logging(**settings.LOGGING)`.

    A log folder that cannot be made is a bad setting (one line, exit 2): access() cannot
    foresee every refusal (root may "write" in /proc, where mkdir fails).
    """
    with one_line_on_bad_settings():
        try:
            configure_logging(**options)
        except OSError as error:
            raise SettingsError(
                f"LOG_DIR={str(options['log_dir'])!r} is invalid: expected a writable folder "
                f"({error.strerror})"
            ) from None


def configure_logging(*, log_dir: Path, level: str, json_logs: bool) -> None:
    """(Re)install the loguru sinks and route the stdlib root logger into them."""
    log_dir.mkdir(parents=True, exist_ok=True)
    logger.remove()
    for old in list(_FILE_HOLDER.handlers):
        _FILE_HOLDER.removeHandler(old)
        old.close()
    file_handler = logging.handlers.RotatingFileHandler(
        log_dir / LOG_FILE_NAME,
        maxBytes=ROTATION_BYTES,
        backupCount=RETENTION_FILES,
        encoding="utf-8",
    )
    file_handler.setFormatter(_OneLine())
    _FILE_HOLDER.addHandler(file_handler)
    _FILE_HOLDER.setLevel(logging.CRITICAL + 1)
    logger.configure(patcher=_redact_record)
    # diagnose=False: tracebacks never show local variables, which could hold a token.
    common = {"level": level, "serialize": json_logs, "backtrace": False, "diagnose": False}
    logger.add(_Redacted(sys.stderr), format=TEXT_FORMAT, **common)
    logger.add(file_handler, format=TEXT_FORMAT, **common)  # redacted by _OneLine
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
    for name in ("django", "django.server"):  # Django's defaults, which it set just before
        django_logger = logging.getLogger(name)
        django_logger.handlers.clear()
        django_logger.setLevel(logging.NOTSET)
        django_logger.propagate = True


class _OneLine(logging.Formatter):
    """Write loguru's already formatted message (with any traceback) as is, JWTs redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(record.getMessage().rstrip("\n"))
