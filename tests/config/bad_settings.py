"""The table of bad settings: each row's variables and the one line that must reject them.

`{file}` in a row stands for a regular file the test creates (a log folder that is a file,
or one under a file: root writes anywhere, but nothing can make a folder under a file).
"""

DAYS = "a whole number of days from 1 to 3,650"
ROWS = "a whole number of rows from 1 to 100,000"
DATABASE = "a database URL: sqlite:///PATH or postgres://USER:PASSWORD@HOST:PORT/NAME"
BOOLEAN = "1/0, true/false, yes/no or on/off"

BAD_SETTINGS = {
    "media-age-999999": (
        {"GENERATED_MEDIA_MAX_AGE_DAYS": "999999"},
        f"GENERATED_MEDIA_MAX_AGE_DAYS='999999' is invalid: expected {DAYS}",
    ),
    "media-age-0": (
        {"GENERATED_MEDIA_MAX_AGE_DAYS": "0"},
        f"GENERATED_MEDIA_MAX_AGE_DAYS='0' is invalid: expected {DAYS}",
    ),
    "token-margin-999999": (
        {"TOKEN_CLEANUP_SAFETY_MARGIN_DAYS": "999999"},
        "TOKEN_CLEANUP_SAFETY_MARGIN_DAYS='999999' is invalid: "
        "expected a whole number of days from 0 to 3,650",
    ),
    "history-days-999999": (
        {"MAINTENANCE_HISTORY_DAYS": "999999"},
        f"MAINTENANCE_HISTORY_DAYS='999999' is invalid: expected {DAYS}",
    ),
    "batch-2**63": (
        {"TOKEN_CLEANUP_BATCH_SIZE": str(2**63)},
        f"TOKEN_CLEANUP_BATCH_SIZE='9223372036854775808' is invalid: expected {ROWS}",
    ),
    "batch-spaces": (
        {"TOKEN_CLEANUP_BATCH_SIZE": " 7 "},
        f"TOKEN_CLEANUP_BATCH_SIZE=' 7 ' is invalid: expected {ROWS}",
    ),
    "batch-underscore": (
        {"TOKEN_CLEANUP_BATCH_SIZE": "5_000"},
        f"TOKEN_CLEANUP_BATCH_SIZE='5_000' is invalid: expected {ROWS}",
    ),
    "batch-plus-sign": (
        {"TOKEN_CLEANUP_BATCH_SIZE": "+3"},
        f"TOKEN_CLEANUP_BATCH_SIZE='+3' is invalid: expected {ROWS}",
    ),
    "batch-arabic-indic-five": (
        {"TOKEN_CLEANUP_BATCH_SIZE": "\u0665"},
        f"TOKEN_CLEANUP_BATCH_SIZE='\u0665' is invalid: expected {ROWS}",
    ),
    "batch-empty": (
        {"TOKEN_CLEANUP_BATCH_SIZE": ""},
        f"TOKEN_CLEANUP_BATCH_SIZE='' is invalid: expected {ROWS}",
    ),
    "backoff-negative": (
        {"MAINTENANCE_RETRY_BACKOFF_S": "-1"},
        "MAINTENANCE_RETRY_BACKOFF_S='-1' is invalid: "
        "expected a whole number of seconds from 0 to 3,600",
    ),
    "conn-max-age-word": (
        {"DATABASE_CONN_MAX_AGE": "forever"},
        "DATABASE_CONN_MAX_AGE='forever' is invalid: "
        "expected a whole number of seconds from 0 to 86,400",
    ),
    "log-level-loud": (
        {"LOG_LEVEL": "LOUD"},
        "LOG_LEVEL='LOUD' is invalid: "
        "expected one of TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR, CRITICAL",
    ),
    "log-dir-a-file": (
        {"LOG_DIR": "{file}"},
        "LOG_DIR='{file}' is invalid: expected a writable folder ({file} is not a folder)",
    ),
    "log-dir-under-a-file": (
        {"LOG_DIR": "{file}/logs"},
        "LOG_DIR='{file}/logs' is invalid: expected a writable folder ({file} is not a folder)",
    ),
    "log-dir-empty": ({"LOG_DIR": ""}, "LOG_DIR='' is invalid: expected a writable folder"),
    "database-url-garbage": (
        {"DATABASE_URL": "garbage"},
        f"DATABASE_URL='garbage' is invalid: expected {DATABASE}",
    ),
    "database-url-empty": (
        {"DATABASE_URL": ""},
        f"DATABASE_URL='' is invalid: expected {DATABASE}",
    ),
    "database-url-no-name": (
        {"DATABASE_URL": "postgres://app:db-pass-123@127.0.0.1:5432"},
        f"DATABASE_URL='postgres://app:***@127.0.0.1:5432' is invalid: expected {DATABASE}",
    ),
    "database-url-bad-port-password-hidden": (
        {"DATABASE_URL": "postgres://app:db-pass-123@db:port/app"},
        f"DATABASE_URL='postgres://app:***@db:port/app' is invalid: expected {DATABASE}",
    ),
    "broker-url-empty": (
        {"CELERY_BROKER_URL": ""},
        "CELERY_BROKER_URL='' is invalid: expected a URL such as redis://HOST:6379/0",
    ),
    "debug-maybe": (
        {"DJANGO_DEBUG": "maybe"},
        f"DJANGO_DEBUG='maybe' is invalid: expected {BOOLEAN}",
    ),
    "log-json-empty": ({"LOG_JSON": ""}, f"LOG_JSON='' is invalid: expected {BOOLEAN}"),
    "allowed-hosts-empty-entry": (
        {"DJANGO_ALLOWED_HOSTS": "example.com,,localhost"},
        "DJANGO_ALLOWED_HOSTS='example.com,,localhost' is invalid: "
        "expected comma-separated host names, IPs or *, none empty",
    ),
    "secret-key-empty": (
        {"DJANGO_SECRET_KEY": ""},
        "DJANGO_SECRET_KEY='' is invalid: expected a non-empty value",
    ),
    "media-root-empty": (
        {"GENERATED_MEDIA_ROOT": ""},
        "GENERATED_MEDIA_ROOT='' is invalid: expected a folder",
    ),
    "two-bad-values-in-one-line": (
        {"GENERATED_MEDIA_MAX_AGE_DAYS": "999999", "LOG_LEVEL": "LOUD"},
        f"GENERATED_MEDIA_MAX_AGE_DAYS='999999' is invalid: expected {DAYS}; LOG_LEVEL='LOUD' "
        "is invalid: expected one of TRACE, DEBUG, INFO, SUCCESS, WARNING, ERROR, CRITICAL",
    ),
}


def filled(row: tuple[dict[str, str], str], file: str) -> tuple[dict[str, str], str]:
    """The row with `{file}` replaced by the path of a regular file."""
    variables, line = row
    return {name: value.replace("{file}", file) for name, value in variables.items()}, (
        line.replace("{file}", file)
    )
