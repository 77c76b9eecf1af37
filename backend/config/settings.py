"""Django settings. Every value that differs between a laptop and production comes
from the environment, with a default that works on a laptop with no server installed.

https://docs.djangoproject.com/en/5.2/ref/settings/
"""

import warnings
from pathlib import Path

import dj_database_url

from config.env import env_bool, env_int, env_str

BASE_DIR = Path(__file__).resolve().parent.parent  # backend/
VAR_DIR = BASE_DIR / "var"

# --- Core ---------------------------------------------------------------------
_DEV_SECRET_KEY = "django-insecure-dev-key-change-me-in-production"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET_KEY)
if SECRET_KEY == _DEV_SECRET_KEY:
    warnings.warn(
        "DJANGO_SECRET_KEY is not set: using the development key. Set it in production.",
        stacklevel=1,
    )
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_str("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver").split(",")

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
    "maintenance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Time ---------------------------------------------------------------------
TIME_ZONE = "UTC"
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"

STATIC_URL = "static/"
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
# `inspect ping`, events and Flower work) and an SQLite result backend.
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = env_str(
    "CELERY_RESULT_BACKEND", f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}"
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_root = Path(env_str("CELERY_BROKER_FOLDER", str(_BROKER_DIR)))
    for _sub in ("queue", "control", "processed"):
        (_broker_root / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_root / "queue"),
        "data_folder_out": str(_broker_root / "queue"),
        "control_folder": str(_broker_root / "control"),
        "processed_folder": str(_broker_root / "processed"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
if CELERY_RESULT_BACKEND.startswith("db+sqlite:///"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
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
# Keep loguru in charge of logging inside workers (see config/logs.py).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Maintenance --------------------------------------------------------------
GENERATED_MEDIA_ROOT = Path(env_str("GENERATED_MEDIA_ROOT", str(BASE_DIR / "generated_media")))
GENERATED_MEDIA_MAX_AGE_DAYS = env_int("GENERATED_MEDIA_MAX_AGE_DAYS", 7)
GENERATED_MEDIA_KEEP = tuple(
    name for name in env_str("GENERATED_MEDIA_KEEP", ".gitkeep").split(",") if name
)
TOKEN_CLEANUP_SAFETY_MARGIN_DAYS = env_int("TOKEN_CLEANUP_SAFETY_MARGIN_DAYS", 7)
# 5000: per-batch commits dominate below that (benchmarks/bench_tokens.py); memory stays ~3 MB.
TOKEN_CLEANUP_BATCH_SIZE = env_int("TOKEN_CLEANUP_BATCH_SIZE", 5000, minimum=1)
# Run history (maintenance.models.MaintenanceRun): rows older than this many days are
# pruned at the end of each run; the last success of each task is always kept.
MAINTENANCE_HISTORY_DAYS = env_int("MAINTENANCE_HISTORY_DAYS", 90, minimum=1)
# A task that meets a database error retries up to 3 times, after up to this many
# seconds, then twice and four times as long (maintenance/tasks.py); 0: at once.
MAINTENANCE_RETRY_BACKOFF_S = env_int("MAINTENANCE_RETRY_BACKOFF_S", 5)

# --- Logging (loguru) ---------------------------------------------------------
# Django's dictConfig is off; config/logs.py routes stdlib logging into loguru.
LOGGING_CONFIG = None
LOG_DIR = Path(env_str("LOG_DIR", str(BASE_DIR / "logs")))
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_JSON = env_bool("LOG_JSON", False)

from config.logs import configure_logging  # noqa: E402

configure_logging(log_dir=LOG_DIR, level=LOG_LEVEL, json_logs=LOG_JSON)

# --- Flower -------------------------------------------------------------------
# Read by backend/flowerconfig.py; "user:password[,user2:password2]".
FLOWER_BASIC_AUTH = env_str("FLOWER_BASIC_AUTH", "")
