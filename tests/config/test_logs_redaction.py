"""One redaction for every sink: a JWT in a message, an exception, its traceback or `extra`
never reaches stderr or backend.log, in text or JSON, whoever logged it."""

import json
import logging
import traceback
from datetime import UTC, datetime
from pathlib import Path

import pytest
from celery.utils.log import get_task_logger
from loguru import logger

from config.logs import LOG_FILE_NAME, configure_logging
from maintenance.redaction import REDACTED, redact_exception
from tests.factories import signed_refresh_token

# A real refresh token, signed by simplejwt with the project's key.
JWT = signed_refresh_token(user_id=7, jti="a" * 32, exp=datetime(2026, 3, 1, tzinfo=UTC))
PIECES = [piece[start : start + 12] for piece in JWT.split(".")[1:] for start in (0, 20, 40)]


def failure(message: str) -> ValueError:
    """A raised ValueError carrying `message`, caused by a KeyError, with a note: all with JWTs."""
    try:
        try:
            raise KeyError(f"jti of {JWT}")
        except KeyError as cause:
            raise ValueError(message) from cause
    except ValueError as exc:
        exc.add_note(f"while refreshing {JWT}")
        return exc


def assert_no_token_in(text: str) -> None:
    assert JWT not in text
    for piece in PIECES:
        assert piece not in text


@pytest.mark.parametrize("json_logs", [False, True], ids=["text", "json"])
def test_a_jwt_anywhere_in_a_record_reaches_no_sink_whoever_logs_it(
    log_dir: Path, capsys: pytest.CaptureFixture[str], json_logs: bool
) -> None:
    configure_logging(log_dir=log_dir, level="INFO", json_logs=json_logs)
    try:
        raise failure(f"bad refresh token {JWT}")
    except ValueError:
        logging.getLogger("django.request").exception("Internal Server Error: /api/refresh/")
    task_failure = failure(f"token {JWT} is not valid")
    logging.getLogger("celery.app.trace").error(
        "Task %s raised unexpected: %r",
        "clean_blacklisted_tokens",
        task_failure,
        exc_info=task_failure,
    )
    get_task_logger("maintenance.tasks").warning("retrying after %s", JWT)
    logger.bind(token=JWT).opt(exception=failure(JWT)).error("refresh {} rejected", JWT)
    logger.complete()

    file_text = (log_dir / LOG_FILE_NAME).read_text()
    stderr = capsys.readouterr().err
    for text in (file_text, stderr):
        assert_no_token_in(text)
        # The records and their tracebacks are all there, only the tokens are gone.
        assert text.count("Traceback (most recent call last)") >= 6  # 3 exceptions, 2 each
        for line in (
            f"ValueError: bad refresh token {REDACTED}",
            f"KeyError: 'jti of {REDACTED}'",
            f"while refreshing {REDACTED}",
            f"retrying after {REDACTED}",
            f"refresh {REDACTED} rejected",
            f"raised unexpected: ValueError('token {REDACTED} is not valid')",
        ):
            assert line in text
    if json_logs:
        records = [json.loads(line)["record"] for line in file_text.splitlines()]
        assert len(records) == 4
        assert records[-1]["extra"] == {"token": REDACTED}
        assert records[-1]["exception"]["value"] == REDACTED


def test_a_sink_of_anyones_gets_the_message_and_extra_redacted(log_dir: Path) -> None:
    configure_logging(log_dir=log_dir, level="INFO", json_logs=False)
    seen: list[dict] = []
    sink = logger.add(lambda message: seen.append(message.record), level="INFO")
    try:
        logger.bind(token=JWT, count=3).info("refresh {} rejected", JWT)
    finally:
        logger.remove(sink)
    ((message, extra),) = [(record["message"], record["extra"]) for record in seen]
    assert (message, extra) == (f"refresh {REDACTED} rejected", {"token": REDACTED, "count": 3})


def test_redact_exception_clears_the_message_notes_and_chain_and_keeps_type_and_traceback() -> None:
    exc = failure(f"bad refresh token {JWT}")
    exc.__cause__.__context__ = exc  # a cycle in the chain ends the walk, not the process
    exc.args = (*exc.args, 42, JWT.encode())
    frames = traceback.extract_tb(exc.__traceback__)

    assert redact_exception(exc) is exc

    assert type(exc) is ValueError
    assert exc.args == (f"bad refresh token {REDACTED}", 42, f"b'{REDACTED}'")
    assert exc.__notes__ == [f"while refreshing {REDACTED}"]
    assert exc.__cause__.args == (f"jti of {REDACTED}",)
    assert traceback.extract_tb(exc.__traceback__) == frames
    text = "".join(traceback.format_exception(exc))
    assert "The above exception was the direct cause" in text
    assert_no_token_in(text)
