"""Logging: stdlib records reach loguru's file sink; JSON mode; no JWT in any log."""

import json
import logging
from pathlib import Path

import pytest
from celery.utils.log import iter_open_logger_fds
from django.conf import settings
from django.utils import log as django_log
from loguru import logger

from config.celery import app
from config.logs import LOG_FILE_NAME, configure, configure_logging
from maintenance.redaction import REDACTED, redact

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


def test_django_setup_routes_its_own_loggers_into_loguru_once(log_dir: Path) -> None:
    # What django.setup() does: Django's default handlers, then the LOGGING_CONFIG hook.
    django_log.configure_logging(
        settings.LOGGING_CONFIG, {"log_dir": log_dir, "level": "DEBUG", "json_logs": True}
    )
    logging.getLogger("django.server").info('"GET /admin/ HTTP/1.1" 200')
    logging.getLogger("django.db.backends").debug("select 1")
    lines = (log_dir / LOG_FILE_NAME).read_text().splitlines()
    assert [json.loads(line)["record"]["message"] for line in lines] == [
        '"GET /admin/ HTTP/1.1" 200',
        "select 1",
    ]
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django.server").handlers == []


def test_celery_leaves_logging_as_django_configured_it(log_dir: Path) -> None:
    configure({"log_dir": log_dir, "level": "WARNING", "json_logs": True})
    handlers = logging.getLogger().handlers[:]
    app.log.setup(loglevel="DEBUG")  # what a starting worker or beat calls
    logging.getLogger("celery.worker").info("below the configured level")
    logging.getLogger("celery.worker").warning("worker lost %d", 1)
    assert logging.getLogger().handlers == handlers
    lines = (log_dir / LOG_FILE_NAME).read_text().splitlines()
    assert [json.loads(line)["record"]["message"] for line in lines] == ["worker lost 1"]


def test_a_log_folder_that_cannot_be_made_is_one_line_and_exit_2(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (log_dir / "a-file").write_text("not a folder")
    with pytest.raises(SystemExit) as exited:
        configure({"log_dir": log_dir / "a-file" / "logs", "level": "INFO", "json_logs": False})
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        f"LOG_DIR='{log_dir}/a-file/logs' is invalid: "
        "expected a writable folder (Not a directory)\n"
    )
    assert not (log_dir / LOG_FILE_NAME).exists()
