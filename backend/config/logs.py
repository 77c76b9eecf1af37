"""One place for logging: loguru sinks, with stdlib logging (Django, Celery) routed in.

Sinks: stderr, and a rotating file `LOG_DIR/backend.log`. `LOG_JSON=1` makes both JSON
lines. Anything shaped like a JWT is redacted from each sink's final text (message,
exception, traceback, `extra`, JSON), so a token string never reaches a log even if a
caller passes one by mistake; `redact_exception` does the same to an exception that leaves
a run, for the history, the result backend, Flower and the command's error line.

The file is written by a stdlib `RotatingFileHandler` that loguru uses as its sink, and
that handler also hangs on a silent stdlib logger. Celery's embedded beat closes every
descriptor that no stdlib logging handler holds when it starts (`close_open_fds`), so a
plain loguru file sink would write to a closed, or worse a reused, descriptor there.
"""

import inspect
import logging
import logging.handlers
import re
import sys
from pathlib import Path

from loguru import logger

LOG_FILE_NAME = "backend.log"
ROTATION_BYTES = 20 * 1024 * 1024  # rotate backend.log at 20 MB...
RETENTION_FILES = 10  # ...and keep backend.log.1 to backend.log.10
TEXT_FORMAT = (
    "{time:YYYY-MM-DD HH:mm:ss.SSS!UTC} | {level: <8} | {name}:{function}:{line} - {message}"
)
_FILE_HOLDER = logging.getLogger("config.logs.file")  # holds the handler; logs nothing
_FILE_HOLDER.propagate = False

# Three base64url segments, the first a JSON header ("eyJ" is base64 for '{"').
_JWT_PATTERN = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")
REDACTED = "<redacted-jwt>"


def redact(text: str) -> str:
    """Replace every JWT-shaped substring of `text` with a fixed marker."""
    return _JWT_PATTERN.sub(REDACTED, text)


def redact_exception(exc: BaseException | None) -> BaseException | None:
    """Redact the JWTs in `exc`'s message, notes and chained exceptions, in place; return it.

    In place, so that the traceback and the exception's type (which retry rules match) stay.
    """
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.args = tuple(_redact_arg(arg) for arg in current.args)
        if hasattr(current, "__notes__"):
            current.__notes__ = [redact(str(note)) for note in current.__notes__]
        pending += [current.__cause__, current.__context__]
    return exc


def _redact_arg(arg: object) -> object:
    """`arg` redacted; anything else holding a JWT (bytes, a tuple) becomes its redacted repr."""
    if isinstance(arg, str):
        return redact(arg)
    text = repr(arg)
    redacted = redact(text)
    return arg if redacted == text else redacted


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


class _OneLine(logging.Formatter):
    """Write loguru's already formatted message (with any traceback) as is, JWTs redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(record.getMessage().rstrip("\n"))
