"""Flower's loopback-or-auth rule (config/flower.py) and its defaults (backend/flowerconfig.py).

In-process, on tornado's real option set; the same rule applied to a real `celery -A config
flower` started from different folders is in tests/live/test_flower_guard.py.
"""

import importlib
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import click
import pytest
from tornado.options import options as tornado_options

from config import flower as guard


def safe_options(**overrides: object) -> SimpleNamespace:
    """Flower's options that matter to the rule, as a command line would leave them."""
    return SimpleNamespace(
        **{"address": "127.0.0.1", "port": 0, "basic_auth": None, "auth": "", "unix_socket": ""}
        | overrides
    )


@pytest.mark.parametrize(
    ("address", "basic_auth", "oauth", "unix_socket", "refused"),
    [
        ("127.0.0.1", None, None, "", False),
        ("127.0.0.2", None, None, "", False),
        ("::1", None, None, "", False),
        ("[::1]", None, None, "", False),
        ("localhost", None, None, "", False),
        ("0.0.0.0", None, None, "", True),
        ("::", None, None, "", True),
        ("", None, None, "", True),
        ("10.0.0.5", None, None, "", True),
        ("flower.example.com", None, None, "", True),
        ("0.0.0.0", ["ops:secret"], None, "", False),
        ("0.0.0.0", None, ".*@example\\.com", "", False),
        ("0.0.0.0", None, None, "/run/flower.sock", False),
        ("127.0.0.1", ["ops:"], None, "", True),
        ("127.0.0.1", ["ops"], None, "", True),
    ],
    ids=[
        "loopback",
        "other-loopback",
        "ipv6-loopback",
        "ipv6-loopback-bracketed",
        "localhost",
        "all-ipv4",
        "all-ipv6",
        "all-interfaces",
        "private-ip",
        "hostname",
        "all-ipv4-with-basic-auth",
        "all-ipv4-with-oauth",
        "unix-socket",
        "empty-password",
        "no-password",
    ],
)
def test_flower_is_refused_only_when_reachable_from_outside_without_auth(
    address: str,
    basic_auth: list[str] | None,
    oauth: str | None,
    unix_socket: str,
    refused: bool,
) -> None:
    problem = guard.exposure_problem(
        address=address, basic_auth=basic_auth, oauth=oauth, unix_socket=unix_socket
    )
    assert (problem is not None) == refused


def test_an_unsafe_option_set_stops_flower_with_one_line() -> None:
    with pytest.raises(SystemExit) as stopped:
        guard.check_flower_options(safe_options(address="0.0.0.0"))
    assert str(stopped.value) == (
        "flower: refusing to serve Flower on 0.0.0.0 without authentication: set "
        "FLOWER_BASIC_AUTH=user:password (or --auth with OAuth), or bind 127.0.0.1"
    )


@pytest.mark.parametrize("address", ["[::1]", "::1"], ids=["bracketed", "bare"])
def test_an_ipv6_loopback_is_accepted_unbracketed_for_tornado(address: str) -> None:
    options = safe_options(address=address)
    guard.check_flower_options(options)
    assert options.address == "::1"
    probe = socket.create_server(("::1", 0), family=socket.AF_INET6)  # still free to bind
    probe.close()


def test_an_address_that_does_not_resolve_is_one_line_not_a_gaierror() -> None:
    options = safe_options(address="fe80::1%no-such-interface", basic_auth=["ops:secret"])
    with pytest.raises(SystemExit) as stopped:
        guard.check_flower_options(options)
    assert str(stopped.value).startswith(
        "flower: cannot listen on fe80::1%no-such-interface port 0: "
    )
    assert stopped.value.__suppress_context__  # no chained traceback behind the line


def test_a_port_in_use_is_one_line_and_the_probe_leaves_nothing_bound() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as stopped:
            guard.check_flower_options(safe_options(port=port))
    assert str(stopped.value) == (
        f"flower: cannot listen on 127.0.0.1 port {port}: Address already in use"
    )
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    guard.check_flower_options(safe_options(port=port))
    socket.create_server(("127.0.0.1", port)).close()  # the probe released it


def test_a_unix_socket_is_not_probed_as_an_address() -> None:
    options = safe_options(address="0.0.0.0", unix_socket="/nonexistent/flower.sock")
    assert guard.check_flower_options(options) is None


# --- the hook the app installs when the command is `flower` --------------------------------
@pytest.fixture
def flower_options(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Tornado's global options with Flower's defined; callbacks and values restored after."""
    import flower.options  # noqa: F401

    callbacks = list(tornado_options._parse_callbacks)
    mockable = tornado_options.mockable()
    for name in ("address", "port", "basic_auth", "auth", "unix_socket", "conf"):
        monkeypatch.setattr(mockable, name, getattr(tornado_options, name))
    yield tornado_options
    tornado_options._parse_callbacks[:] = callbacks


def under_command(name: str, action: Callable[[], None]) -> None:
    """Run `action` as the `celery` group's callback runs while `celery <name>` starts."""
    context = click.Context(click.Group("celery"))
    context.invoked_subcommand = name
    with context:
        action()


def test_the_flower_command_reads_backend_flowerconfig_and_checks_the_final_options(
    flower_options: object,
) -> None:
    under_command("flower", guard.guard_flower)
    # The file beside the `config` package, by absolute path (the test may run from a copy
    # of backend/, as `make mutation` does).
    conf = Path(tornado_options.conf)
    assert conf.is_absolute()
    assert conf.is_file()
    assert conf == Path(guard.__file__).resolve().parents[1] / "flowerconfig.py"
    added = tornado_options._parse_callbacks[-1]
    assert isinstance(added, guard._FinalOptionsCheck)
    tornado_options.address = ""  # parse 1, before the config file: not judged yet
    assert added() is None
    with pytest.raises(SystemExit, match="on every interface without authentication"):
        added()  # parse 2: final


@pytest.mark.parametrize("command", ["worker", None], ids=["worker", "no-command"])
def test_other_commands_and_plain_imports_leave_flower_alone(
    flower_options: object, command: str | None
) -> None:
    before = (list(tornado_options._parse_callbacks), tornado_options.conf)
    if command is None:
        guard.guard_flower()
    else:
        under_command(command, guard.guard_flower)
    assert (list(tornado_options._parse_callbacks), tornado_options.conf) == before


def test_without_a_config_file_the_first_parse_is_final(
    flower_options: object, tmp_path: Path
) -> None:
    tornado_options.conf = str(tmp_path / "absent.py")
    tornado_options.address = "0.0.0.0"
    with pytest.raises(SystemExit, match=r"refusing to serve Flower on 0\.0\.0\.0"):
        guard._FinalOptionsCheck(tornado_options)()


# --- backend/flowerconfig.py -----------------------------------------------------------------
@pytest.fixture
def flowerconfig(monkeypatch: pytest.MonkeyPatch) -> Callable[[], ModuleType]:
    """A fresh import of backend/flowerconfig.py under the current environment."""
    for name in ("FLOWER_ADDRESS", "FLOWER_PORT", "FLOWER_BASIC_AUTH"):
        monkeypatch.delenv(name, raising=False)

    def load() -> ModuleType:
        sys.modules.pop("flowerconfig", None)
        try:
            return importlib.import_module("flowerconfig")
        finally:
            sys.modules.pop("flowerconfig", None)

    return load


def test_flowerconfig_defaults_to_loopback_port_5555_and_no_auth(
    flowerconfig: Callable[[], ModuleType],
) -> None:
    module = flowerconfig()
    assert (module.address, module.port, module.max_tasks) == ("127.0.0.1", 5555, 10000)
    assert not hasattr(module, "basic_auth")


def test_flowerconfig_reads_address_port_and_basic_auth_users_from_the_environment(
    flowerconfig: Callable[[], ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWER_ADDRESS", "10.0.0.5")
    monkeypatch.setenv("FLOWER_PORT", "5600")
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "ops:secret,audit:another")
    module = flowerconfig()
    assert (module.address, module.port) == ("10.0.0.5", 5600)
    assert module.basic_auth == ["ops:secret", "audit:another"]
