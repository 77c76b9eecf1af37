"""ASGI entry point."""

import contextlib
import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from config.secret_key import warn_if_development_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# WhiteNoise warns at every start while STATIC_ROOT is missing (before `make web` collects).
with contextlib.suppress(OSError):  # a read-only deployment collected it at build time
    settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
application = get_asgi_application()
warn_if_development_key(settings.SECRET_KEY)  # once per web server process
