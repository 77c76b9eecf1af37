"""The Celery app: task names, the beat schedule and its time zone."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from celery.schedules import crontab

import config
from config.celery import BEAT_EXPIRES_S, app, make_embedded_folders

MAINTENANCE_TASKS = {"clean_generated_media", "clean_blacklisted_tokens"}


def test_both_tasks_are_registered_under_their_exact_names() -> None:
    app.loader.import_default_modules()
    assert set(app.tasks) >= MAINTENANCE_TASKS


def test_every_beat_entry_names_a_registered_task() -> None:
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks


def test_media_cleanup_runs_every_sunday_at_three_utc() -> None:
    entry = app.conf.beat_schedule["clean-generated-media-weekly"]
    assert entry["task"] == "clean_generated_media"
    assert entry["schedule"] == crontab(minute=0, hour=3, day_of_week=0)
    assert entry["options"]["expires"] == BEAT_EXPIRES_S


def test_token_cleanup_runs_every_day_at_two_utc() -> None:
    entry = app.conf.beat_schedule["clean-blacklisted-tokens-daily"]
    assert entry["task"] == "clean_blacklisted_tokens"
    assert entry["schedule"] == crontab(minute=0, hour=2)
    assert entry["options"]["expires"] == BEAT_EXPIRES_S


def test_beat_messages_expire_before_the_next_daily_run() -> None:
    assert 0 < BEAT_EXPIRES_S < timedelta(days=1).total_seconds()


def test_the_schedule_is_in_utc() -> None:
    assert app.conf.timezone == "UTC"
    assert app.conf.enable_utc is True
    assert str(app.timezone) == "UTC"


def test_workers_and_clients_send_events_for_flower() -> None:
    assert app.conf.worker_send_task_events is True
    assert app.conf.task_send_sent_event is True


def test_the_app_finds_the_django_settings_without_django_settings_module() -> None:
    # `celery -A config worker` starts in an environment that names no settings module.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", "from config.celery import app; print(app.conf.result_extended)"],
        cwd=Path(config.__file__).parents[1],  # the backend folder this test imported
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "True\n"), done.stderr  # CELERY_RESULT_EXTENDED


def test_a_server_broker_and_results_get_no_folder(tmp_path: Path) -> None:
    root = tmp_path / "var"
    root.mkdir()
    folders = ("data_folder_in", "data_folder_out", "control_folder", "processed_folder")
    conf = SimpleNamespace(
        broker_transport=None,  # redis:// or amqp://: the URL's scheme names the transport
        broker_transport_options={key: str(root / key) for key in folders},
        result_backend=f"db+postgresql://app@db/{root / 'results'}",
    )
    make_embedded_folders(conf)
    assert list(root.iterdir()) == []


def test_the_embedded_broker_and_sqlite_results_get_their_folders(tmp_path: Path) -> None:
    root = tmp_path / "var"
    folders = ("data_folder_in", "data_folder_out", "control_folder", "processed_folder")
    conf = SimpleNamespace(
        broker_transport="config.broker:Transport",
        broker_transport_options={key: str(root / "broker" / key) for key in folders},
        result_backend=f"db+sqlite:///{root / 'results' / 'celery' / 'results.sqlite3'}",
    )
    make_embedded_folders(conf)
    make_embedded_folders(conf)  # again, as each process does: they exist already
    assert sorted(path.name for path in (root / "broker").iterdir()) == sorted(folders)
    assert list((root / "results" / "celery").iterdir()) == []  # SQLite makes the file


def test_once_configured_the_app_gets_one_media_entry_per_host_and_its_folders(
    tmp_path: Path, settings: object
) -> None:
    settings.GENERATED_MEDIA_HOSTS = ("web1", "web2")
    conf = SimpleNamespace(
        broker_transport="config.broker:Transport",
        broker_transport_options={
            key: str(tmp_path / "broker" / key)
            for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder")
        },
        result_backend="redis://127.0.0.1:6379/0",
    )
    config.celery._install_beat_schedule(sender=SimpleNamespace(conf=conf))
    assert sorted(conf.beat_schedule) == [
        "clean-blacklisted-tokens-daily",
        "clean-generated-media-weekly-web1",
        "clean-generated-media-weekly-web2",
    ]
    assert len(list((tmp_path / "broker").iterdir())) == 4
