"""The development secret key, and its warning where it matters: a worker, the web server.

Not at settings import, so a plain CLI call (`celery call`, a management command) on the
laptop defaults stays quiet.
"""

import warnings

from config.env import DEV_SECRET_KEY


def warn_if_development_key(secret_key: str) -> None:
    """Warn that the development key signs sessions and JWTs, when it does."""
    if secret_key == DEV_SECRET_KEY:
        warnings.warn(
            "DJANGO_SECRET_KEY is not set: using the development key. Set it in production.",
            stacklevel=2,
        )
