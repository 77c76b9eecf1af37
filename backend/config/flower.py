"""Flower's loopback-or-auth rule, applied whenever `celery -A config flower` loads this app.

Upstream Flower listens on every interface with no password (CVE-2022-30034). A rule kept
in `flowerconfig.py` held only where that file was found (Flower reads it from the working
directory), so it is enforced here: every `celery -A config <command>` imports this app
before the command runs, and for `flower` the app points Flower at backend/flowerconfig.py
(unless `--conf` or FLOWER_CONF name another) and registers a tornado parse callback that
judges Flower's final options, wherever they came from.

Flower 2.2's `flower/command.py` sets options in this order: FLOWER_* environment
variables, the command line (parse 1), the config file, the command line again (parse 2,
which wins). Parse callbacks run after each command-line parse, so the first one is
skipped when a config file will follow it.
"""

import ipaddress
import os
from pathlib import Path
from typing import Any

import click

FLOWERCONFIG = Path(__file__).resolve().parents[1] / "flowerconfig.py"


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IPs (127.0.0.0/8, ::1, [::1]); False for "" (all)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
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


def check_flower_options(options: Any) -> None:
    """Stop Flower with one line unless its options are safe and its address can be bound.

    A bracketed IPv6 address (`[::1]`, as in a URL) is unbracketed first: tornado passes
    the address to getaddrinfo, which knows no brackets. The address is then bound once
    and released, so a name that does not resolve or a port in use is one line, not a
    traceback from inside Flower.
    """
    from tornado.netutil import bind_sockets

    if options.address.startswith("[") and options.address.endswith("]"):
        options.address = options.address[1:-1]
    problem = exposure_problem(
        address=options.address,
        basic_auth=options.basic_auth,
        oauth=options.auth,
        unix_socket=options.unix_socket,
    )
    if problem:
        raise SystemExit(f"flower: {problem}")
    if options.unix_socket:
        return
    try:
        probes = bind_sockets(options.port, address=options.address or None)
    except OSError as exc:
        shown = options.address or "every interface"
        raise SystemExit(
            f"flower: cannot listen on {shown} port {options.port}: {exc.strerror or exc}"
        ) from None
    for probe in probes:
        probe.close()


class _FinalOptionsCheck:
    """The parse callback: judge the options after the last command-line parse."""

    def __init__(self, options: Any) -> None:
        self.options = options
        self.parses = 0

    def __call__(self) -> None:
        self.parses += 1
        if self.parses == 1 and os.path.isfile(os.path.abspath(self.options.conf)):
            return  # Flower reads this file next, then parses the command line again
        check_flower_options(self.options)


def guard_flower() -> None:
    """When the running command is `celery ... flower`, make Flower obey the rule above."""
    context = click.get_current_context(silent=True)
    if context is None or context.invoked_subcommand != "flower":
        return
    import flower.options  # noqa: F401  (defines Flower's tornado options)
    from tornado.options import options

    # FLOWER_CONF and --conf are applied after this, so they still choose another file.
    options.conf = str(FLOWERCONFIG)
    options.add_parse_callback(_FinalOptionsCheck(options))
