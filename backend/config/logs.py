"""One place for logging: loguru sinks, with stdlib logging (Django, Celery) routed in.

Sinks: stderr, and a rotating file `LOG_DIR/backend.log`. `LOG_JSON=1` makes both JSON
lines. Anything shaped like a JWT is redacted from every message before any sink sees it,
so a token string never reaches a log even if a caller passes one by mistake.
"""

import logging
import re
import sys
from pathlib import Path

from loguru import logger

LOG_FILE_NAME = "backend.log"
ROTATION = "20 MB"
RETENTION = "30 days"

# Three base64url segments, the first a JSON header ("eyJ" is base64 for '{"').
_JWT_PATTERN = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")
REDACTED = "<redacted-jwt>"


def redact(text: str) -> str:
    """Replace every JWT-shaped substring of `text` with a fixed marker."""
    return _JWT_PATTERN.sub(REDACTED, text)


def _redact_record(record: dict) -> None:
    record["message"] = redact(record["message"])


class InterceptHandler(logging.Handler):
    """Send stdlib `logging` records to loguru, keeping level and caller."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = logging.currentframe(), 2
        while frame and frame.f_code.co_filename == logging.__file__:
            frame, depth = frame.f_back, depth + 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def configure_logging(*, log_dir: Path, level: str, json_logs: bool) -> None:
    """(Re)install the loguru sinks and route the stdlib root logger into them."""
    log_dir.mkdir(parents=True, exist_ok=True)
    logger.remove()
    logger.configure(patcher=_redact_record)
    logger.add(sys.stderr, level=level, serialize=json_logs, backtrace=False, diagnose=False)
    logger.add(
        log_dir / LOG_FILE_NAME,
        level=level,
        serialize=json_logs,
        rotation=ROTATION,
        retention=RETENTION,
        encoding="utf-8",
        backtrace=False,
        diagnose=False,
    )
    logging.basicConfig(handlers=[InterceptHandler()], level=0, force=True)
