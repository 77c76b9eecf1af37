"""The development-key warning comes where it matters, a worker and the web server, and
nowhere else (config/secret_key.py); a plain CLI call stays quiet (tests/config/test_settings.py).
"""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from celery.signals import worker_init
from pytest_django.fixtures import Settings

import config.celery
from config.env import DEV_SECRET_KEY
from config.secret_key import warn_if_development_key

BACKEND = Path(__file__).resolve().parents[2] / "backend"
WARNING = "DJANGO_SECRET_KEY is not set: using the development key. Set it in production."


def test_the_development_key_is_warned_about_and_a_real_key_is_not() -> None:
    with pytest.warns(UserWarning, match=f"^{WARNING}$"):
        warn_if_development_key(DEV_SECRET_KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_development_key("a-real-key")


def test_a_starting_worker_warns_on_the_development_key_only(settings: Settings) -> None:
    receiver = config.celery._warn_if_development_key
    assert receiver in worker_init._live_receivers(sender=None)
    settings.SECRET_KEY = DEV_SECRET_KEY
    with pytest.warns(UserWarning, match="DJANGO_SECRET_KEY is not set"):
        receiver(sender=None)
    settings.SECRET_KEY = "a-real-key"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        receiver(sender=None)


@pytest.mark.parametrize("secret", ["", "a-real-key"], ids=["unset", "set"])
def test_the_web_server_entry_point_warns_on_the_development_key_only(
    tmp_path: Path, secret: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(LOG_DIR=str(tmp_path / "logs"), PYTHONDONTWRITEBYTECODE="1")
    if secret:
        env["DJANGO_SECRET_KEY"] = secret
    done = subprocess.run(
        [sys.executable, "-c", "import config.wsgi, config.asgi"],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stderr.count(WARNING) == (0 if secret else 2)  # WSGI, ASGI: one each
