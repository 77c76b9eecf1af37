"""A missing server skips a test on a laptop and fails it under CI=true."""

import socket
from collections.abc import Iterator

import pytest

from tests.live.servers import require_server


@pytest.fixture
def listening_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/10"


@pytest.fixture
def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/10"  # bound, then released: nothing listens there


@pytest.mark.parametrize("ci", ["true", "1"], ids=["CI=true", "CI=1"])
def test_missing_server_fails_the_test_under_ci(
    closed_url: str, ci: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=r"Redis is not reachable at 127\.0\.0\.1:\d+"):
        require_server("Redis", closed_url)


@pytest.mark.parametrize("ci", [None, "false"], ids=["CI-unset", "CI=false"])
def test_missing_server_skips_the_test_outside_ci(
    closed_url: str, ci: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="set CI=true to make this a failure"):
        require_server("Redis", closed_url)


def test_reachable_server_is_returned_whatever_ci_says(
    listening_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    assert require_server("Redis", listening_url) == listening_url
