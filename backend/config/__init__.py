# Any process that loads this package (manage.py, `celery -A config ...`, WSGI) reads the
# settings first: a bad one ends it with one line on stderr and exit 2 (config/env.py).
from config.env import exit_on_bad_settings

exit_on_bad_settings()

# Load the Celery app whenever Django starts, so that @shared_task binds to it.
from .celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
