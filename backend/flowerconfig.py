"""Flower's defaults, read by `celery -A config flower` wherever it starts.

https://flower.readthedocs.io/en/latest/config.html

The app (config/flower.py) points Flower at this file unless `--conf` or FLOWER_CONF name
another, and refuses to serve a non-loopback address without authentication whichever
file, variable or flag set it. Flower executes this file with tornado's
`parse_config_file`: FLOWER_* variables are applied before it and the command line after
it, which wins.

Names defined here that match a Flower option become that option, so imports are aliased.
"""

import os as _os

# Bind to loopback only: upstream Flower listens on every interface by default.
address = _os.environ.get("FLOWER_ADDRESS", "127.0.0.1")
port = int(_os.environ.get("FLOWER_PORT", "5555"))

# "user:password[,user2:password2]"; unset means no authentication (loopback only).
if _os.environ.get("FLOWER_BASIC_AUTH"):
    basic_auth = _os.environ["FLOWER_BASIC_AUTH"].split(",")

# Keep the last tasks in memory for the UI and /api/tasks.
max_tasks = 10000
