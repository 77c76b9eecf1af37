"""`make web` as an operator runs it: migrate, collect the static files, serve on the
address asked for, the admin styled without DEBUG (WhiteNoise), the health check pending
on a fresh deployment, and a Ctrl-C in its terminal stops it with exit status 0.
"""

import re
import urllib.request
from pathlib import Path

import pytest

from tests.live.processes import free_port, wait_for
from tests.live.terminal import make_target_and_ctrl_c

pytestmark = [pytest.mark.live, pytest.mark.soak, pytest.mark.timeout(180)]


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_make_web_serves_the_styled_admin_and_the_health_check_without_debug(
    tmp_path: Path,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    seen: dict[str, tuple[int, str, str]] = {}

    def while_serving() -> None:
        login = wait_for(
            lambda: _answers(f"http://{address}/admin/login/"), timeout_s=60, what="make web"
        )
        stylesheet = re.search(r'href="(/static/admin/css/[^"]+\.css)"', login[2]).group(1)
        seen["css"] = _get(f"http://{address}{stylesheet}")
        seen["health"] = _get(f"http://{address}/api/health/maintenance/")

    stopped = make_target_and_ctrl_c(
        "web", tmp_path, ready=while_serving, variables={"WEB_ADDRESS": address}
    )

    status, content_type, css = seen["css"]  # DJANGO_DEBUG is off: WhiteNoise serves it
    assert (status, content_type.split(";")[0]) == (200, "text/css")
    assert "body" in css
    assert seen["health"][0] == 200
    assert '"status": "pending"' in seen["health"][2]
    assert stopped.exit_status == 0, stopped.output[-2000:]
    assert "make: ***" not in stopped.output


def _answers(url: str) -> tuple[int, str, str] | None:
    try:
        return _get(url)
    except OSError:
        return None
