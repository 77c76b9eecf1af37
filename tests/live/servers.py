"""Reachability of the servers that the server-backed tests need, and what to do without them.

Outside CI a missing server skips the test with the reason; under `CI=true` it fails it,
so a CI job whose service container is down cannot pass by skipping.
"""

import os
import socket
from urllib.parse import urlsplit

import pytest
from environs import Env

# The machine's servers; a laptop without them skips, CI overrides through these variables.
LIVE_REDIS_URL = os.environ.get("LIVE_REDIS_URL") or "redis://127.0.0.1:6379"
LIVE_POSTGRES_URL = os.environ.get("LIVE_POSTGRES_URL") or "postgres://postgres@127.0.0.1:5432"
LIVE_AMQP_URL = os.environ.get("LIVE_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672//"

_DEFAULT_PORTS = {"redis": 6379, "postgres": 5432, "postgresql": 5432, "amqp": 5672}


def servers_required() -> bool:
    """True under `CI=true`: a missing server is then a failure, not a skip."""
    return Env().bool("CI", False)


def is_reachable(url: str, *, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def require_server(name: str, url: str) -> str:
    """Return `url` when its server answers; otherwise skip the test, or fail it under CI=true."""
    if is_reachable(url):
        return url
    parts = urlsplit(url)
    reason = (
        f"{name} is not reachable at {parts.hostname}:{parts.port or _DEFAULT_PORTS[parts.scheme]}"
    )
    if servers_required():
        pytest.fail(f"{reason}, and CI=true requires it", pytrace=False)
    pytest.skip(f"{reason} (set CI=true to make this a failure)")
