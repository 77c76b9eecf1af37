"""The Celery app and its beat schedule (Celery's stock Django setup)."""

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A beat message that no worker picked up within this many seconds is dropped, so
# runs missed while the workers were down do not pile up and fire all at once.
BEAT_EXPIRES_S = 6 * 3600

app.conf.beat_schedule = {
    # Every Sunday at 03:00 UTC.
    "clean-generated-media-weekly": {
        "task": "clean_generated_media",
        "schedule": crontab(minute=0, hour=3, day_of_week="sun"),
        "options": {"expires": BEAT_EXPIRES_S},
    },
    # Every day at 02:00 UTC.
    "clean-blacklisted-tokens-daily": {
        "task": "clean_blacklisted_tokens",
        "schedule": crontab(minute=0, hour=2),
        "options": {"expires": BEAT_EXPIRES_S},
    },
}


@setup_logging.connect
def _use_loguru(**_kwargs: object) -> None:
    """Keep Celery from reconfiguring logging: loguru (config/logs.py) stays in charge."""
    from django.conf import settings

    from config.logs import configure_logging

    configure_logging(log_dir=settings.LOG_DIR, level=settings.LOG_LEVEL, json_logs=settings.LOG_JSON)
