"""The Celery app and its beat schedule (Celery's stock Django setup)."""

import gc
import os
from functools import partial
from pathlib import Path

from celery import Celery
from celery.apps import worker as celery_worker_app
from celery.platforms import EX_OK
from celery.schedules import crontab
from celery.signals import setup_logging, worker_init, worker_shutdown

from config.flower import guard_flower
from config.hosts import MEDIA_ENTRY, media_entry, media_queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Ctrl-C is how `make run` is stopped: its warm shutdown exits 0, as SIGTERM's does
# (Celery exits 1 on it; a second Ctrl-C still forces a cold shutdown and exits 1).
celery_worker_app.install_worker_int_handler = partial(
    celery_worker_app._shutdown_handler,
    sig="SIGINT",
    callback=celery_worker_app.on_SIGINT,
    exitcode=EX_OK,
)

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# `celery -A config flower`: backend/flowerconfig.py and the loopback-or-auth rule, from
# any working directory and whichever way the options were given (config/flower.py).
guard_flower()

# A beat message that no worker picked up within this many seconds is dropped, so
# runs missed while the workers were down do not pile up and fire all at once.
BEAT_EXPIRES_S = 6 * 3600

# Beat down over a fire time: the missed entry runs once, at once, if that fire time was at
# most this long ago, else at its next one (docs/periodic-tasks.md, "Configuring the schedule").
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#beat-cron-starting-deadline
BEAT_CRON_STARTING_DEADLINE_S = 6 * 3600
app.conf.beat_cron_starting_deadline = BEAT_CRON_STARTING_DEADLINE_S

# Beat stamps each message with its entry and fire time (config/beat.py), so a run that
# a second beat sent again is recognised by the worker and skipped (maintenance/once.py).
app.conf.beat_scheduler = "config.beat:FireTimeScheduler"

MEDIA_SCHEDULE = crontab(minute=0, hour=3, day_of_week="sun")  # every Sunday at 03:00 UTC
TOKENS_SCHEDULE = crontab(minute=0, hour=2)  # every day at 02:00 UTC


def beat_schedule(media_hosts: tuple[str, ...] = ()) -> dict[str, dict]:
    """Return the beat schedule: one weekly media entry, or one per host in `media_hosts`.

    Each host's entry goes to that host's own queue (config/hosts.py), because the media
    task must run where the host's files are.
    """
    if media_hosts:
        media = {
            media_entry(host): {
                "task": "clean_generated_media",
                "schedule": MEDIA_SCHEDULE,
                "options": {"expires": BEAT_EXPIRES_S, "queue": media_queue(host)},
            }
            for host in media_hosts
        }
    else:
        media = {
            MEDIA_ENTRY: {
                "task": "clean_generated_media",
                "schedule": MEDIA_SCHEDULE,
                "options": {"expires": BEAT_EXPIRES_S},
            }
        }
    return {
        **media,
        "clean-blacklisted-tokens-daily": {
            "task": "clean_blacklisted_tokens",
            "schedule": TOKENS_SCHEDULE,
            "options": {"expires": BEAT_EXPIRES_S},
        },
    }


@app.on_after_configure.connect
def _install_beat_schedule(sender: Celery, **_kwargs: object) -> None:
    """Build the schedule from GENERATED_MEDIA_HOSTS once Django's settings are read."""
    from django.conf import settings

    sender.conf.beat_schedule = beat_schedule(settings.GENERATED_MEDIA_HOSTS)
    make_embedded_folders(sender.conf)


def make_embedded_folders(conf: object) -> None:
    """Make the folders of the embedded broker and of an SQLite result backend, if used."""
    if conf.broker_transport == "config.broker:Transport":
        options = conf.broker_transport_options
        for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
    if conf.result_backend.startswith("db+sqlite:///"):
        Path(conf.result_backend.removeprefix("db+sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )


@setup_logging.connect
def _leave_logging_to_django(**_kwargs: object) -> None:
    """Connected, so Celery leaves logging as Django's LOGGING_CONFIG set it (config/logs.py)."""


@worker_init.connect
def _warn_if_development_key(**_kwargs: object) -> None:
    """A worker says once that it runs on the development secret key."""
    from django.conf import settings

    from config.secret_key import warn_if_development_key

    warn_if_development_key(settings.SECRET_KEY)


@worker_shutdown.connect
def _skip_the_final_collection(**_kwargs: object) -> None:
    """Exit without walking every object once more: the interpreter's final garbage
    collection took about 0.35 s of CPU of a stopping worker, frozen objects are skipped."""
    gc.freeze()
