"""Logging: stdlib records reach loguru's file sink; JSON mode; no JWT in any log."""

import json
import logging
from pathlib import Path

import pytest
from loguru import logger

from config.logs import LOG_FILE_NAME, REDACTED, configure_logging, redact

# A real token's shape (header.payload.signature); its content is irrelevant here.
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6MTc5MDAwMDAwMH0"
    ".c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
)


@pytest.fixture
def log_dir(tmp_path: Path, _logs_in_a_temporary_folder: Path):
    yield tmp_path
    logger.complete()
    configure_logging(log_dir=_logs_in_a_temporary_folder, level="DEBUG", json_logs=False)


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
