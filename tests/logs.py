"""The app's own loguru lines in a test, read from pytest's caplog (the bridge in
tests/conftest.py, from loguru's documentation)."""

import logging

import pytest


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Each line the app logged through loguru during the test, as "LEVEL message"."""
    return [f"{r.levelname} {r.getMessage()}" for r in caplog.records if from_the_app(r)]


def from_the_app(record: logging.LogRecord) -> bool:
    """A record the app logged through loguru, not a library's nor its stdlib duplicate."""
    return hasattr(record, "extra") and record.name.startswith(("maintenance", "config"))


def warnings(log: list[str]) -> list[str]:
    return [line for line in log if line.startswith("WARNING")]
