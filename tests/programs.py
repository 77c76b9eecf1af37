"""Programs that some tests drive (Chromium, promtool), and what to do without them.

As with the servers (tests/live/servers.py): outside CI a missing program skips the test
with the reason; under `CI=true` it fails it, since `.ci/run` installs both.
"""

import shutil
from pathlib import Path

import pytest

from tests.live.servers import servers_required


def require_program(path_or_name: str, *, install: str) -> Path:
    """Return the program's path when it is installed; otherwise skip, or fail under CI=true."""
    found = shutil.which(path_or_name)
    if found:
        return Path(found)
    reason = f"{path_or_name} is not installed ({install})"
    if servers_required():
        pytest.fail(f"{reason}, and CI=true requires it", pytrace=False)
    pytest.skip(f"{reason}; set CI=true to make this a failure")
