"""Exactly once per beat entry and fire time: claims, duplicates, redeliveries, manual runs.

Runs go through the real tasks (eager `apply_async` with the headers beat sends) on the
test database; the unique constraint is exercised by the database itself.
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction

from config.beat import ENTRY_HEADER, FIRE_TIME_HEADER
from maintenance import once
from maintenance.models import MaintenanceRun
from maintenance.tasks import clean_blacklisted_tokens, clean_generated_media
from tests.logs import logged

pytestmark = [pytest.mark.django_db, pytest.mark.eager, pytest.mark.usefixtures("eager")]

FIRE = datetime(2026, 3, 8, 3, 0, 0, tzinfo=UTC)
ENTRY = "clean-generated-media-weekly"
OLD = datetime(2020, 1, 1, tzinfo=UTC)


def beat_headers(entry: str = ENTRY, fire: datetime = FIRE) -> dict:
    """The headers the project's beat puts on a message (config/beat.py)."""
    return {"celery_beat_task": True, ENTRY_HEADER: entry, FIRE_TIME_HEADER: fire.isoformat()}


@pytest.fixture
def media_root(tmp_path: Path, settings) -> Path:
    settings.GENERATED_MEDIA_ROOT = tmp_path
    return tmp_path


def old_file(root: Path, name: str) -> Path:
    path = root / name
    path.write_bytes(b"x")
    os.utime(path, (OLD.timestamp(), OLD.timestamp()))
    return path


def rows() -> list[tuple]:
    return list(
        MaintenanceRun.objects.order_by("id").values_list(
            "task_id", "origin", "outcome", "beat_entry", "fire_time"
        )
    )


def test_a_beat_run_claims_its_fire_time_and_cleans(media_root: Path) -> None:
    planted = old_file(media_root, "old.png")
    result = clean_generated_media.apply_async(task_id="first", headers=beat_headers()).get()
    assert result["deleted"] == 1
    assert not planted.exists()
    assert rows() == [("first", "beat", "ok", ENTRY, FIRE)]


def test_a_second_copy_of_the_same_fire_time_ends_at_once_as_duplicate(
    media_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clean_generated_media.apply_async(task_id="first", headers=beat_headers()).get()
    planted = old_file(media_root, "planted-after-the-first-run.png")
    result = clean_generated_media.apply_async(task_id="second", headers=beat_headers()).get()
    assert result == {
        "duplicate": True,
        "task": "clean_generated_media",
        "beat_entry": ENTRY,
        "fire_time": FIRE.isoformat(),
        "claimed_by": "first",
    }
    assert planted.exists()  # nothing cleaned
    assert rows() == [
        ("first", "beat", "ok", ENTRY, FIRE),
        ("second", "beat", "duplicate", ENTRY, FIRE),
    ]
    warnings = [line for line in logged(caplog) if line.startswith("WARNING")]
    assert warnings == [
        "WARNING duplicate beat run skipped: clean_generated_media "
        f"{ENTRY} at {FIRE.isoformat()} was already claimed (ok) by task first; nothing cleaned"
    ]


def test_a_copy_finding_the_fire_time_running_is_a_duplicate_too(media_root: Path) -> None:
    holder = once.claim(
        once.BeatFire(ENTRY, FIRE),
        task="clean_generated_media",
        task_id="running-elsewhere",
        dry_run=False,
        started_at=FIRE,
    )
    assert holder.outcome == "running"
    result = clean_generated_media.apply_async(task_id="second", headers=beat_headers()).get()
    assert result["duplicate"] is True
    assert result["claimed_by"] == "running-elsewhere"
    holder.refresh_from_db()
    assert holder.outcome == "running"  # the holder's row is left to the holder


def test_the_same_message_redelivered_takes_its_own_claim_back(media_root: Path) -> None:
    # The worker died mid-run: its row stayed `running`; the redelivery has the same id.
    once.claim(
        once.BeatFire(ENTRY, FIRE),
        task="clean_generated_media",
        task_id="redelivered",
        dry_run=False,
        started_at=FIRE,
    )
    planted = old_file(media_root, "old.png")
    result = clean_generated_media.apply_async(task_id="redelivered", headers=beat_headers()).get()
    assert result["deleted"] == 1
    assert not planted.exists()
    assert rows() == [("redelivered", "beat", "ok", ENTRY, FIRE)]


def test_each_fire_time_and_each_entry_is_claimed_on_its_own(media_root: Path) -> None:
    later = datetime(2026, 3, 15, 3, 0, 0, tzinfo=UTC)
    clean_generated_media.apply_async(task_id="a", headers=beat_headers()).get()
    clean_generated_media.apply_async(task_id="b", headers=beat_headers(fire=later)).get()
    clean_generated_media.apply_async(
        task_id="c", headers=beat_headers(entry=f"{ENTRY}-web2")
    ).get()
    assert [row[2] for row in rows()] == ["ok", "ok", "ok"]


def test_manual_runs_are_never_deduplicated(media_root: Path) -> None:
    stamps = beat_headers()
    del stamps["celery_beat_task"]  # `celery call` and Flower send no beat header
    clean_generated_media.apply_async(task_id="a", headers=stamps).get()
    clean_generated_media.apply_async(task_id="b", headers=stamps).get()
    clean_generated_media.apply_async(task_id="c").get()
    clean_generated_media.apply_async(task_id="d").get()
    assert [(row[1], row[2], row[3], row[4]) for row in rows()] == [("task", "ok", "", None)] * 4


def test_a_beat_run_without_a_stamp_runs_as_before(media_root: Path) -> None:
    # Sent by a scheduler that does not stamp (Celery's stock one, django-celery-beat).
    for task_id in ("a", "b"):
        clean_generated_media.apply_async(task_id=task_id, headers={"celery_beat_task": True}).get()
    assert [(row[1], row[2], row[3]) for row in rows()] == [("beat", "ok", "")] * 2


def test_an_unreadable_fire_time_is_logged_and_the_run_goes_ahead(
    media_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {**beat_headers(), FIRE_TIME_HEADER: "Sunday at three"}
    for task_id in ("a", "b"):
        clean_generated_media.apply_async(task_id=task_id, headers=headers).get()
    assert [(row[2], row[3]) for row in rows()] == [("ok", "")] * 2
    assert (
        f"WARNING beat fire time 'Sunday at three' of {ENTRY} is unreadable: not deduplicated"
        in logged(caplog)
    )


def test_a_claimed_run_that_fails_fills_in_its_claimed_row(
    media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_kwargs: object) -> None:
        raise RuntimeError("injected fault")

    monkeypatch.setattr("maintenance.tasks.delete_old_media", broken)
    with pytest.raises(RuntimeError):
        clean_generated_media.apply_async(task_id="a", headers=beat_headers()).get()
    [row] = MaintenanceRun.objects.all()
    assert (row.outcome, row.beat_entry, row.fire_time, row.task_id) == ("failed", ENTRY, FIRE, "a")
    assert "RuntimeError: injected fault" in row.error


def test_the_token_task_is_claimed_the_same_way() -> None:
    entry, fire = "clean-blacklisted-tokens-daily", datetime(2026, 3, 8, 2, tzinfo=UTC)
    first = clean_blacklisted_tokens.apply_async(
        task_id="a", headers=beat_headers(entry, fire)
    ).get()
    second = clean_blacklisted_tokens.apply_async(
        task_id="b", headers=beat_headers(entry, fire)
    ).get()
    assert first["completed"] is True
    assert second["duplicate"] is True
    assert [row[2] for row in rows()] == ["ok", "duplicate"]


def _row(**fields: object) -> MaintenanceRun:
    values = {
        "task": "clean_generated_media",
        "origin": "beat",
        "started_at": FIRE,
        "finished_at": FIRE,
        "outcome": "ok",
        "beat_entry": ENTRY,
        "fire_time": FIRE,
        **fields,
    }
    return MaintenanceRun.objects.create(**values)


def test_the_database_refuses_a_second_claim_of_one_fire_time() -> None:
    _row(outcome="running")
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(outcome="ok")
    # Duplicates, other fire times, other entries and unstamped rows are not constrained.
    _row(outcome="duplicate")
    _row(outcome="duplicate")
    _row(fire_time=datetime(2026, 3, 15, 3, tzinfo=UTC))
    _row(beat_entry=f"{ENTRY}-web2")
    _row(beat_entry="", fire_time=None)
    _row(beat_entry="", fire_time=None)
    assert MaintenanceRun.objects.count() == 7
