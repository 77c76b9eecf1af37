"""`manage.py maintenance_schedule`: each beat entry, its queue, its next three fire times."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from celery.schedules import crontab
from django.core.management import call_command
from freezegun import freeze_time

from config.celery import app, beat_schedule


def _listing(at: datetime, *args: str) -> str:
    out = StringIO()
    with freeze_time(at):
        call_command("maintenance_schedule", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("now", "media_fires", "token_fires"),
    [
        (
            datetime(2026, 3, 1, 1, 59, 59, tzinfo=UTC),  # Sunday, 1 s before the daily run
            ["2026-03-01T03:00:00+00:00", "2026-03-08T03:00:00+00:00", "2026-03-15T03:00:00+00:00"],
            ["2026-03-01T02:00:00+00:00", "2026-03-02T02:00:00+00:00", "2026-03-03T02:00:00+00:00"],
        ),
        (
            datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC),  # Sunday, at the weekly run
            ["2026-03-08T03:00:00+00:00", "2026-03-15T03:00:00+00:00", "2026-03-22T03:00:00+00:00"],
            ["2026-03-02T02:00:00+00:00", "2026-03-03T02:00:00+00:00", "2026-03-04T02:00:00+00:00"],
        ),
        (
            datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),  # a Thursday, across the year end
            ["2027-01-03T03:00:00+00:00", "2027-01-10T03:00:00+00:00", "2027-01-17T03:00:00+00:00"],
            ["2027-01-01T02:00:00+00:00", "2027-01-02T02:00:00+00:00", "2027-01-03T02:00:00+00:00"],
        ),
    ],
    ids=["before-both", "at-the-weekly-run", "year-end"],
)
def test_json_lists_every_entry_with_its_next_three_fire_times(
    now: datetime, media_fires: list[str], token_fires: list[str]
) -> None:
    entries = json.loads(_listing(now, "--json"))
    assert entries == [
        {
            "entry": "clean-generated-media-weekly",
            "task": "clean_generated_media",
            "queue": "celery",
            "schedule": "At 03:00, only on Sunday (UTC, cron: 0 3 * * 0)",
            "expires": 21600,
            "expires_text": "21600 s (6:00:00 after the fire time)",
            "next": media_fires,
        },
        {
            "entry": "clean-blacklisted-tokens-daily",
            "task": "clean_blacklisted_tokens",
            "queue": "celery",
            "schedule": "At 02:00 (UTC, cron: 0 2 * * *)",
            "expires": 21600,
            "expires_text": "21600 s (6:00:00 after the fire time)",
            "next": token_fires,
        },
    ]
    assert {entry["entry"] for entry in entries} == set(app.conf.beat_schedule)


def test_text_listing_reads_as_words() -> None:
    assert _listing(datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC)).splitlines() == [
        "clean-generated-media-weekly",
        "  task      clean_generated_media",
        "  queue     celery",
        "  schedule  At 03:00, only on Sunday (UTC, cron: 0 3 * * 0)",
        "  expires   21600 s (6:00:00 after the fire time)",
        "  next      2026-03-08T03:00:00+00:00, 2026-03-15T03:00:00+00:00, "
        "2026-03-22T03:00:00+00:00",
        "clean-blacklisted-tokens-daily",
        "  task      clean_blacklisted_tokens",
        "  queue     celery",
        "  schedule  At 02:00 (UTC, cron: 0 2 * * *)",
        "  expires   21600 s (6:00:00 after the fire time)",
        "  next      2026-03-02T02:00:00+00:00, 2026-03-03T02:00:00+00:00, "
        "2026-03-04T02:00:00+00:00",
    ]


def test_the_schedule_reads_in_russian_too() -> None:
    listing = _listing(datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC), "--language", "ru")
    assert [line for line in listing.splitlines() if "schedule" in line] == [
        "  schedule  В 03:00, только в воскресенье (UTC, cron: 0 3 * * 0)",
        "  schedule  В 02:00 (UTC, cron: 0 2 * * *)",
    ]
    assert "  next      2026-03-08T03:00:00+00:00, " in listing  # the rest is unchanged


def test_an_added_entry_without_expiry_or_with_a_fixed_one_is_listed_in_words() -> None:
    """Entries an operator might add: seconds with no expiry, a cron with a fixed expiry."""
    ours = dict(app.conf.beat_schedule)
    added = {
        "hourly-no-expiry": {"task": "clean_generated_media", "schedule": 3600.0},
        "every-minute-until": {
            "task": "clean_blacklisted_tokens",
            "schedule": crontab(),
            "options": {"expires": datetime(2026, 3, 2, tzinfo=UTC)},
        },
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(app.conf, "beat_schedule", added)
        entries = json.loads(_listing(datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC), "--json"))

    assert entries == [
        {
            "entry": "hourly-no-expiry",
            "task": "clean_generated_media",
            "queue": "celery",
            "schedule": "every 3600 s",
            "expires": None,
            "expires_text": "never",
            "next": [
                "2026-03-01T04:00:00+00:00",
                "2026-03-01T05:00:00+00:00",
                "2026-03-01T06:00:00+00:00",
            ],
        },
        {
            "entry": "every-minute-until",
            "task": "clean_blacklisted_tokens",
            "queue": "celery",
            "schedule": "Every minute (UTC, cron: * * * * *)",
            "expires": "2026-03-02T00:00:00+00:00",
            "expires_text": "2026-03-02T00:00:00+00:00",
            "next": [
                "2026-03-01T03:01:00+00:00",
                "2026-03-01T03:02:00+00:00",
                "2026-03-01T03:03:00+00:00",
            ],
        },
    ]
    assert app.conf.beat_schedule == ours  # the project's schedule is back, unchanged
    assert added["hourly-no-expiry"]["schedule"] == 3600.0  # the entry itself is not rewritten


def test_each_hosts_media_entry_lists_its_own_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = beat_schedule(("web1", "web2"))
    monkeypatch.setitem(app.conf, "beat_schedule", hosts)
    entries = json.loads(_listing(datetime(2026, 3, 1, 3, 0, 0, tzinfo=UTC), "--json"))
    assert [(e["entry"], e["task"], e["queue"]) for e in entries] == [
        ("clean-generated-media-weekly-web1", "clean_generated_media", "media.web1"),
        ("clean-generated-media-weekly-web2", "clean_generated_media", "media.web2"),
        ("clean-blacklisted-tokens-daily", "clean_blacklisted_tokens", "celery"),
    ]
    assert [entry["options"] for entry in hosts.values()] == [  # read, not rewritten
        {"expires": 21600, "queue": "media.web1"},
        {"expires": 21600, "queue": "media.web2"},
        {"expires": 21600},
    ]
