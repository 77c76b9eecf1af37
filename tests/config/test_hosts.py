"""GENERATED_MEDIA_HOSTS: host names, one weekly media entry per host on its own queue."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from environs import ValidationError

from config.celery import BEAT_EXPIRES_S, MEDIA_SCHEDULE, TOKENS_SCHEDULE, app, beat_schedule
from config.hosts import media_entry, media_queue, parse_media_hosts
from config.parsers import media_hosts

BACKEND = Path(__file__).resolve().parents[2] / "backend"


@pytest.mark.parametrize(
    ("raw", "hosts"),
    [
        ("", ()),
        (" , ,", ()),
        ("web1", ("web1",)),
        ("web1,web2", ("web1", "web2")),
        (" web-2 , web_1 ", ("web-2", "web_1")),
        ("a" * 63, ("a" * 63,)),
    ],
)
def test_host_names_are_read_in_order(raw: str, hosts: tuple[str, ...]) -> None:
    assert parse_media_hosts(raw) == hosts


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("web1,web 2", "'web 2' is not a host name"),
        ("media.web1", "'media.web1' is not a host name"),
        ("-web", "'-web' is not a host name"),
        ("a" * 64, f"'{'a' * 64}' is not a host name"),
        ("web1,web2,web1", "web1 named twice"),
    ],
)
def test_a_bad_host_list_is_refused_naming_the_bad_name(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"\S") as raised:
        parse_media_hosts(raw)
    assert str(raised.value) == message


def test_the_settings_parser_says_what_is_allowed_and_what_was_wrong() -> None:
    assert media_hosts("web1, web2") == ("web1", "web2")
    with pytest.raises(ValidationError) as raised:
        media_hosts("web1,web 2")
    assert raised.value.messages == [
        "comma-separated host names (letters, digits, '-' and '_', at most 63 characters), "
        "none twice: 'web 2' is not a host name"
    ]


def test_names_of_a_hosts_entry_and_queue() -> None:
    assert media_entry("web1") == "clean-generated-media-weekly-web1"
    assert media_queue("web1") == "media.web1"


def test_without_hosts_the_schedule_keeps_its_two_entries_and_names() -> None:
    assert beat_schedule(()) == {
        "clean-generated-media-weekly": {
            "task": "clean_generated_media",
            "schedule": MEDIA_SCHEDULE,
            "options": {"expires": BEAT_EXPIRES_S},
        },
        "clean-blacklisted-tokens-daily": {
            "task": "clean_blacklisted_tokens",
            "schedule": TOKENS_SCHEDULE,
            "options": {"expires": BEAT_EXPIRES_S},
        },
    }
    assert app.conf.beat_schedule == beat_schedule(())  # the test settings name no hosts


def test_each_host_gets_a_weekly_media_entry_routed_to_its_own_queue() -> None:
    schedule = beat_schedule(("web1", "web2"))
    assert {name: entry["options"] for name, entry in schedule.items()} == {
        "clean-generated-media-weekly-web1": {"expires": BEAT_EXPIRES_S, "queue": "media.web1"},
        "clean-generated-media-weekly-web2": {"expires": BEAT_EXPIRES_S, "queue": "media.web2"},
        "clean-blacklisted-tokens-daily": {"expires": BEAT_EXPIRES_S},
    }
    assert {name: entry["task"] for name, entry in schedule.items()} == {
        "clean-generated-media-weekly-web1": "clean_generated_media",
        "clean-generated-media-weekly-web2": "clean_generated_media",
        "clean-blacklisted-tokens-daily": "clean_blacklisted_tokens",
    }
    assert schedule["clean-generated-media-weekly-web2"]["schedule"] == MEDIA_SCHEDULE


def _schedule_of_a_fresh_process(hosts: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GENERATED_MEDIA_HOSTS": hosts, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # as `celery -A config beat` starts
    code = "from config.celery import app; print(sorted(app.conf.beat_schedule))"
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_app_builds_its_schedule_from_the_environment() -> None:
    done = _schedule_of_a_fresh_process("web1,web2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(
        [
            "clean-blacklisted-tokens-daily",
            "clean-generated-media-weekly-web1",
            "clean-generated-media-weekly-web2",
        ]
    )
    bad = _schedule_of_a_fresh_process("web1,web1")
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[-1] == (
        "GENERATED_MEDIA_HOSTS='web1,web1' is invalid: expected comma-separated host names "
        "(letters, digits, '-' and '_', at most 63 characters), none twice: web1 named twice"
    )
