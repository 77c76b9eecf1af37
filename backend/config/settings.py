"""Django settings. Every value that differs between a laptop and production comes
from the environment, with a default that works on a laptop with no server installed.
Importing them reads the environment and nothing else: folders are made by what uses them.

https://docs.djangoproject.com/en/5.2/ref/settings/
"""

from config.env import (
    BASE_DIR,  # noqa: F401 (backend/; the setting Django projects expect)
    VAR_DIR,
    read_environment,
)

# Every variable, checked against its bounds (README, "Configuration"); a bad one raises
# SettingsError, which config.env.exit_on_bad_settings turns into one line and exit 2.
_environment = read_environment()

# --- Core ---------------------------------------------------------------------
SECRET_KEY = _environment["DJANGO_SECRET_KEY"]  # the development key: config/secret_key.py
DEBUG = _environment["DJANGO_DEBUG"]
ALLOWED_HOSTS = _environment["DJANGO_ALLOWED_HOSTS"]
# Debug pages and error reports mask every setting and request variable whose name
# could carry a credential, broker and database URLs included (config/reporting.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.reporting.SecretsFilter"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "health_check",  # its view's HTML page (config/urls.py, /health/)
    "maintenance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's CSS) from STATIC_ROOT, without DEBUG (`make web` collects them).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# https://github.com/jazzband/dj-database-url
DATABASES = {
    "default": _environment["DATABASE_URL"]
    | {"CONN_MAX_AGE": _environment["DATABASE_CONN_MAX_AGE"]}
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Time ---------------------------------------------------------------------
TIME_ZONE = "UTC"
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"

STATIC_URL = "static/"
# WhiteNoise serves this folder (`make web` collects into it; config/wsgi.py makes it).
STATIC_ROOT = VAR_DIR / "static"

# --- REST framework and JWT ---------------------------------------------------
# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": (
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ),
}
SIMPLE_JWT = {
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

# --- Celery -------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# The defaults need no server: kombu's filesystem transport (it has fanout, so
# `inspect ping`, events and Flower work) and an SQLite result backend. config/celery.py
# makes their folders when the app's configuration is first read.
CELERY_BROKER_URL = _environment["CELERY_BROKER_URL"]
CELERY_RESULT_BACKEND = _environment["CELERY_RESULT_BACKEND"]
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_root = _environment["CELERY_BROKER_FOLDER"]
    # kombu's filesystem transport with whole-or-nothing sends and queue expiry.
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_root / "queue"),
        "data_folder_out": str(_broker_root / "queue"),
        "control_folder": str(_broker_root / "control"),
        "processed_folder": str(_broker_root / "processed"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
# Events for Flower: workers send task events, clients send task-sent events.
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_TASK_TRACK_STARTED = True
# Logging is Django's (LOGGING_CONFIG below); config/celery.py keeps Celery out of it.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The worker's timer thread sleeps up to this long, and a shutdown waits for it (1 s by default).
CELERY_WORKER_TIMER_PRECISION = 0.25
# An event listener's queue (Flower, `celery events`) and a control reply queue expire
# this many seconds after their consumer last polled; the embedded broker honours it too.
CELERY_EVENT_QUEUE_EXPIRES = _environment["CELERY_EVENT_QUEUE_EXPIRES"]
CELERY_CONTROL_QUEUE_EXPIRES = _environment["CELERY_CONTROL_QUEUE_EXPIRES"]

# --- Maintenance --------------------------------------------------------------
GENERATED_MEDIA_ROOT = _environment["GENERATED_MEDIA_ROOT"]
GENERATED_MEDIA_MAX_AGE_DAYS = _environment["GENERATED_MEDIA_MAX_AGE_DAYS"]
# One weekly media run per web host, each on that host's queue (config/celery.py):
# "web1,web2". Empty: one media run, on any worker.
GENERATED_MEDIA_HOSTS = _environment["GENERATED_MEDIA_HOSTS"]
GENERATED_MEDIA_KEEP = _environment["GENERATED_MEDIA_KEEP"]
TOKEN_CLEANUP_SAFETY_MARGIN_DAYS = _environment["TOKEN_CLEANUP_SAFETY_MARGIN_DAYS"]
# 20000: SQLite rewrites most index pages at each commit, so fewer commits run faster, and a
# batch still holds SQLite's write lock for under a second (docs/token-cleanup.md).
TOKEN_CLEANUP_BATCH_SIZE = _environment["TOKEN_CLEANUP_BATCH_SIZE"]
# Run history (maintenance.models.MaintenanceRun): rows older than this many days are
# pruned at the end of each run; the last success of each task is always kept.
MAINTENANCE_HISTORY_DAYS = _environment["MAINTENANCE_HISTORY_DAYS"]
# A task that meets a database error retries up to 3 times, after up to this many
# seconds, then twice and four times as long (maintenance/tasks.py); 0: at once.
MAINTENANCE_RETRY_BACKOFF_S = _environment["MAINTENANCE_RETRY_BACKOFF_S"]

# --- Logging (loguru) ---------------------------------------------------------
# django.setup() calls config.logs.configure(LOGGING) once, in every process that sets
# Django up: loguru's sinks, with stdlib logging routed into them.
# https://docs.djangoproject.com/en/5.2/topics/logging/#disabling-logging-configuration
LOG_DIR = _environment["LOG_DIR"]
LOG_LEVEL = _environment["LOG_LEVEL"]
LOG_JSON = _environment["LOG_JSON"]
LOGGING_CONFIG = "config.logs.configure"
LOGGING = {"log_dir": LOG_DIR, "level": LOG_LEVEL, "json_logs": LOG_JSON}

# --- Flower -------------------------------------------------------------------
# Read by backend/flowerconfig.py; "user:password[,user2:password2]".
FLOWER_BASIC_AUTH = _environment["FLOWER_BASIC_AUTH"]
