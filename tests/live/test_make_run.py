"""`make run` stops cleanly on a Ctrl-C typed in its terminal: exit 0, a warm shutdown, no
error line from make. How long it takes is measured by benchmarks/bench_shutdown.py.
"""

from pathlib import Path

import pytest

from tests.live.terminal import make_run_and_ctrl_c

pytestmark = [pytest.mark.live, pytest.mark.soak, pytest.mark.timeout(180)]


def test_ctrl_c_stops_make_run_with_exit_status_0(tmp_path: Path) -> None:
    stopped = make_run_and_ctrl_c(tmp_path, idle_s=1.0)

    assert stopped.exit_status == 0, stopped.output[-2000:]
    assert "worker: Warm shutdown (MainProcess)" in stopped.output
    assert "make: ***" not in stopped.output  # neither "Error 1" nor "Interrupt"
    assert "Traceback" not in stopped.output
