"""Flower's configuration, read by `celery -A config flower` from the working directory.

https://flower.readthedocs.io/en/latest/config.html

Flower executes this file with tornado's `parse_config_file` between two parses of the
command line, and only then runs tornado's parse callbacks. The callback registered at
the bottom therefore sees the final options (environment, this file, then the command
line, which wins) and refuses to serve a non-loopback address without authentication:
upstream Flower listens on every interface with no password (CVE-2022-30034).

Names defined here that match a Flower option become that option, so helpers are private
(`_name`) and imports are aliased.
"""

import ipaddress as _ipaddress
import os as _os

from tornado.options import options as _options

# Bind to loopback only: upstream Flower listens on every interface by default.
address = _os.environ.get("FLOWER_ADDRESS", "127.0.0.1")
port = int(_os.environ.get("FLOWER_PORT", "5555"))

# "user:password[,user2:password2]"; unset means no authentication (loopback only).
if _os.environ.get("FLOWER_BASIC_AUTH"):
    basic_auth = _os.environ["FLOWER_BASIC_AUTH"].split(",")

# Keep the last tasks in memory for the UI and /api/tasks.
max_tasks = 10000


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IPs (127.0.0.0/8, ::1); False for "" (every interface)."""
    if host == "localhost":
        return True
    try:
        return _ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # "", "0.0.0.0"-like names, or a host name: assume it is reachable


def exposure_problem(
    *, address: str, basic_auth: list[str] | None, oauth: str | None, unix_socket: str
) -> str | None:
    """Why these options must not start Flower, or None when they are safe."""
    for credential in basic_auth or ():
        user, sep, password = credential.partition(":")
        if not (user and sep and password):
            return "FLOWER_BASIC_AUTH entries must be user:password with a non-empty password"
    if unix_socket or is_loopback(address) or basic_auth or oauth:
        return None
    shown = address or "every interface"
    return (
        f"refusing to serve Flower on {shown} without authentication: set "
        "FLOWER_BASIC_AUTH=user:password (or --auth with OAuth), or bind 127.0.0.1"
    )


def _refuse_exposed_without_auth() -> None:
    problem = exposure_problem(
        address=_options.address,
        basic_auth=_options.basic_auth,
        oauth=_options.auth,
        unix_socket=_options.unix_socket,
    )
    if problem:
        raise SystemExit(f"flowerconfig: {problem}")


_options.add_parse_callback(_refuse_exposed_without_auth)
