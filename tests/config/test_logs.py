"""Logging: stdlib records reach loguru's file sink; JSON mode; no JWT in any log."""

import json
import logging
from pathlib import Path

from celery.signals import setup_logging
from celery.utils.log import iter_open_logger_fds
from loguru import logger

from config.logs import LOG_FILE_NAME, REDACTED, configure_logging, redact

# A real token's shape (header.payload.signature); its content is irrelevant here.
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6MTc5MDAwMDAwMH0"
    ".c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
)


def test_a_django_stdlib_record_reaches_the_loguru_file_sink(log_dir: Path) -> None:
    configure_logging(log_dir=log_dir, level="INFO", json_logs=False)
    logging.getLogger("django.request").warning("upstream said %s", "no")
    logging.getLogger("django.db").debug("below the level")
    text = (log_dir / LOG_FILE_NAME).read_text()
    assert "WARNING" in text
    assert "upstream said no" in text
    assert "below the level" not in text


def test_json_mode_writes_parseable_json_lines(log_dir: Path) -> None:
    configure_logging(log_dir=log_dir, level="INFO", json_logs=True)
    logging.getLogger("celery.worker").info("hello %d", 42)
    logger.info("from loguru")
    lines = (log_dir / LOG_FILE_NAME).read_text().splitlines()
    records = [json.loads(line)["record"] for line in lines]
    assert [r["message"] for r in records] == ["hello 42", "from loguru"]
    assert [r["level"]["name"] for r in records] == ["INFO", "INFO"]


def test_a_jwt_in_a_message_is_redacted_in_every_sink(log_dir: Path) -> None:
    configure_logging(log_dir=log_dir, level="INFO", json_logs=False)
    logging.getLogger("django.request").error("bad refresh %s", JWT)
    logger.info("token was {}", JWT)
    text = (log_dir / LOG_FILE_NAME).read_text()
    assert JWT not in text
    assert JWT.split(".")[1] not in text
    assert text.count(REDACTED) == 2


def test_redact_leaves_ordinary_text_alone() -> None:
    assert redact("deleted 3 rows of token_blacklist_outstandingtoken") == (
        "deleted 3 rows of token_blacklist_outstandingtoken"
    )
    assert redact(f"a {JWT} b") == f"a {REDACTED} b"


def test_a_stdlib_record_is_attributed_to_its_caller_not_to_logging(log_dir: Path) -> None:
    configure_logging(log_dir=log_dir, level="INFO", json_logs=True)
    logging.getLogger("django.request").warning("from a caller")
    record = json.loads((log_dir / LOG_FILE_NAME).read_text().splitlines()[-1])["record"]
    assert record["function"] == "test_a_stdlib_record_is_attributed_to_its_caller_not_to_logging"
    assert record["file"]["name"] == "test_logs.py"


def test_celery_keeps_the_log_file_open_when_embedded_beat_closes_descriptors(
    log_dir: Path,
) -> None:
    # Embedded beat closes every descriptor not held by a stdlib handler's stream
    # (celery.beat._Process.run); the log file must be among those it keeps.
    configure_logging(log_dir=log_dir, level="INFO", json_logs=False)
    kept = {stream.name for stream in iter_open_logger_fds() if hasattr(stream, "name")}
    assert str(log_dir / LOG_FILE_NAME) in kept


def test_reconfiguring_closes_the_previous_log_file(log_dir: Path) -> None:
    configure_logging(log_dir=log_dir / "first", level="INFO", json_logs=False)
    (first,) = logging.getLogger("config.logs.file").handlers
    configure_logging(log_dir=log_dir / "second", level="INFO", json_logs=False)
    (second,) = logging.getLogger("config.logs.file").handlers
    assert first.stream is None or first.stream.closed
    assert second.baseFilename == str(log_dir / "second" / LOG_FILE_NAME)


def test_a_stdlib_record_at_a_level_loguru_does_not_know_keeps_its_number(log_dir: Path) -> None:
    """A library's own level number (25: stdlib calls it "Level 25") reaches the file as is."""
    configure_logging(log_dir=log_dir, level="INFO", json_logs=True)
    logging.getLogger("some.library").log(25, "between info and warning")
    logging.getLogger("some.library").log(15, "below the sink's level")
    logging.getLogger("some.library").warning("a known level")
    lines = (log_dir / LOG_FILE_NAME).read_text().splitlines()
    records = [json.loads(line)["record"] for line in lines]
    assert [(r["message"], r["level"]["name"], r["level"]["no"]) for r in records] == [
        ("between info and warning", "Level 25", 25),
        ("a known level", "WARNING", 30),
    ]


def test_a_celery_process_logs_through_loguru_as_the_settings_say(log_dir: Path, settings) -> None:
    # Celery sends setup_logging when a worker or beat starts; config.celery answers it,
    # so Celery leaves logging alone and loguru gets the settings' folder, level and format.
    settings.LOG_DIR, settings.LOG_LEVEL, settings.LOG_JSON = log_dir, "WARNING", True
    setup_logging.send(sender=None, loglevel="DEBUG", logfile=None, format="", colorize=False)
    logging.getLogger("celery.worker").info("below the configured level")
    logging.getLogger("celery.worker").warning("worker lost %d", 1)
    lines = (log_dir / LOG_FILE_NAME).read_text().splitlines()
    assert [json.loads(line)["record"]["message"] for line in lines] == ["worker lost 1"]
