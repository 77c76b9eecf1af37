"""Flower's configuration, read by `celery -A config flower` from the working directory.

https://flower.readthedocs.io/en/latest/config.html
"""

import os

# Bind to loopback only: upstream Flower listens on every interface by default.
address = os.environ.get("FLOWER_ADDRESS", "127.0.0.1")
port = int(os.environ.get("FLOWER_PORT", "5555"))

# "user:password[,user2:password2]"; unset means no authentication (loopback only).
if os.environ.get("FLOWER_BASIC_AUTH"):
    basic_auth = os.environ["FLOWER_BASIC_AUTH"].split(",")

# Keep the last tasks in memory for the UI and /api/tasks.
max_tasks = 10000
