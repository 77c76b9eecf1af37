"""WSGI entry point."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from config.secret_key import warn_if_development_key

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
warn_if_development_key(settings.SECRET_KEY)  # once per web server process
