"""Health per beat entry: with one media entry per web host, each host is judged alone."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from freezegun import freeze_time

from config.celery import app, beat_schedule
from maintenance.health import last_entry_successes, last_successes, maintenance_health
from maintenance.history import prune_history
from maintenance.models import MaintenanceRun
from tests.clock import utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 3, 9, 12)  # a Monday
SUNDAY_3 = datetime(2026, 3, 8, 3, 0, 0, tzinfo=UTC)
TOKENS_2 = datetime(2026, 3, 9, 2, 0, 0, tzinfo=UTC)
HOSTS = beat_schedule(("web1", "web2"))
WEB1, WEB2 = "clean-generated-media-weekly-web1", "clean-generated-media-weekly-web2"
TOKENS = "clean-blacklisted-tokens-daily"


def run(task: str, finished_at: datetime, entry: str = "", **fields: object) -> MaintenanceRun:
    values = {
        "origin": "beat" if entry else "task",
        "outcome": "ok",
        "dry_run": False,
        "summary": {},
        **fields,
    }
    return MaintenanceRun.objects.create(
        task=task,
        beat_entry=entry,
        fire_time=finished_at.replace(second=0) if entry else None,
        started_at=finished_at - timedelta(seconds=3),
        finished_at=finished_at,
        **values,
    )


def statuses(schedule: dict, now: datetime = NOW) -> dict[str, str]:
    report = maintenance_health(now=now, beat_schedule=schedule)
    return {task.entry: task.status for task in report.tasks}


def test_one_hosts_success_does_not_make_another_host_healthy() -> None:
    run("clean_generated_media", SUNDAY_3 + timedelta(seconds=4), WEB1)
    run("clean_blacklisted_tokens", TOKENS_2 + timedelta(seconds=2), TOKENS)
    assert statuses(HOSTS) == {WEB1: "OK", WEB2: "STALE", TOKENS: "OK"}


def test_each_host_goes_stale_on_its_own_last_success() -> None:
    run("clean_generated_media", SUNDAY_3 + timedelta(seconds=4), WEB1)
    run("clean_generated_media", SUNDAY_3 - timedelta(days=7, seconds=-9), WEB2)  # a week older
    run("clean_blacklisted_tokens", TOKENS_2, TOKENS)
    later = SUNDAY_3 - timedelta(days=7) + timedelta(days=7, hours=6, seconds=10)
    assert statuses(HOSTS, later) == {WEB1: "OK", WEB2: "STALE", TOKENS: "OK"}
    report = maintenance_health(now=NOW, beat_schedule=HOSTS)
    assert [t.last_success for t in report.tasks] == [
        SUNDAY_3 + timedelta(seconds=4),
        SUNDAY_3 - timedelta(days=7, seconds=-9),
        TOKENS_2,
    ]


def test_a_run_naming_no_host_proves_no_host_but_counts_for_a_single_entry() -> None:
    # `celery call clean_generated_media`, or a command: which host's folder it cleaned
    # is not recorded, so with per-host entries it counts for none of them.
    run("clean_generated_media", SUNDAY_3)
    run("clean_blacklisted_tokens", TOKENS_2)
    assert statuses(HOSTS) == {WEB1: "STALE", WEB2: "STALE", TOKENS: "OK"}
    single = beat_schedule(())
    assert statuses(single) == {"clean-generated-media-weekly": "OK", TOKENS: "OK"}


def test_with_a_single_entry_its_own_beat_runs_and_unstamped_runs_both_count() -> None:
    run("clean_generated_media", SUNDAY_3 - timedelta(days=7), "clean-generated-media-weekly")
    run("clean_generated_media", SUNDAY_3 + timedelta(seconds=1))
    run("clean_generated_media", SUNDAY_3 + timedelta(seconds=9), "an-entry-since-removed")
    assert last_entry_successes(beat_schedule(())) == {
        "clean-generated-media-weekly": SUNDAY_3 + timedelta(seconds=1)
    }


@pytest.mark.parametrize("outcome", ["running", "duplicate", "failed", "partial"])
def test_only_an_ok_run_is_a_success(outcome: str) -> None:
    run("clean_generated_media", SUNDAY_3, WEB1, outcome=outcome)
    assert last_entry_successes(HOSTS) == {}
    assert last_successes({"clean_generated_media"}) == {}


def test_one_hosts_missing_root_makes_that_hosts_entry_alone_misconfigured() -> None:
    missing = {"root": "/srv/web1/generated_media", "root_missing": True}
    run("clean_generated_media", SUNDAY_3 + timedelta(seconds=4), WEB1, summary=missing)
    run("clean_generated_media", SUNDAY_3 + timedelta(seconds=6), WEB2)  # later, and fine
    run("clean_blacklisted_tokens", TOKENS_2, TOKENS)
    report = maintenance_health(now=NOW, beat_schedule=HOSTS)
    assert [(t.entry, t.status, t.misconfigured) for t in report.tasks] == [
        (
            WEB1,
            "MISCONFIGURED",
            "GENERATED_MEDIA_ROOT /srv/web1/generated_media does not exist "
            "(run finished at 2026-03-08T03:00:04+00:00)",
        ),
        (WEB2, "OK", None),
        (TOKENS, "OK", None),
    ]


@pytest.mark.parametrize("outcome", ["running", "duplicate"])
def test_a_run_that_has_not_looked_at_the_root_leaves_it_missing(outcome: str) -> None:
    missing = {"root": "/srv/web1/generated_media", "root_missing": True}
    run("clean_generated_media", SUNDAY_3 + timedelta(seconds=4), WEB1, summary=missing)
    run("clean_generated_media", NOW, WEB1, outcome=outcome, summary=None)
    assert statuses(HOSTS)[WEB1] == "MISCONFIGURED"
    assert statuses(HOSTS)[WEB2] == "STALE"  # never ran: missing on web1 says nothing of web2


def test_the_command_names_the_stale_hosts_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.conf, "beat_schedule", HOSTS)
    run("clean_generated_media", SUNDAY_3 + timedelta(seconds=4), WEB1)
    run("clean_blacklisted_tokens", TOKENS_2 + timedelta(seconds=2), TOKENS)
    out = StringIO()
    with freeze_time(NOW), pytest.raises(CommandError) as raised:
        call_command("maintenance_health", stdout=out)
    assert str(raised.value) == f"periodic maintenance is stale: {WEB2}"
    assert [line.split() for line in out.getvalue().splitlines()] == [
        ["task", "last", "success", "next", "due", "status"],
        [WEB1, "2026-03-08T03:00:04+00:00", "2026-03-15T03:00:00+00:00", "OK"],
        [WEB2, "never", "2026-03-15T03:00:00+00:00", "STALE"],
        [
            "clean_blacklisted_tokens",
            "2026-03-09T02:00:02+00:00",
            "2026-03-10T02:00:00+00:00",
            "OK",
        ],
    ]


def test_the_endpoint_reports_each_entry(client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.conf, "beat_schedule", HOSTS)
    run("clean_generated_media", SUNDAY_3 + timedelta(seconds=4), WEB1)
    run("clean_generated_media", SUNDAY_3 + timedelta(seconds=6), WEB2)
    run("clean_blacklisted_tokens", TOKENS_2 + timedelta(seconds=2), TOKENS)
    with freeze_time(NOW):
        response = client.get("/api/health/maintenance/")
    assert response.status_code == 200
    assert [(t["entry"], t["status"]) for t in response.json()["tasks"]] == [
        (WEB1, "OK"),
        (WEB2, "OK"),
        (TOKENS, "OK"),
    ]


def test_pruning_keeps_the_last_success_of_each_hosts_entry() -> None:
    web1 = run("clean_generated_media", SUNDAY_3 - timedelta(days=200), WEB1)
    web2 = run("clean_generated_media", SUNDAY_3 - timedelta(days=300), WEB2)
    older_web2 = run("clean_generated_media", SUNDAY_3 - timedelta(days=307), WEB2)
    deleted = prune_history(now=NOW, max_age=timedelta(days=90))
    assert deleted == 1
    assert set(MaintenanceRun.objects.values_list("id", flat=True)) == {web1.id, web2.id}
    assert not MaintenanceRun.objects.filter(id=older_web2.id).exists()
