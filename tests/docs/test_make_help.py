"""`make` with no target lists every target of the Makefile, one line each (`make help`)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_plain_make_prints_one_line_per_target_and_installs_nothing() -> None:
    documented = re.findall(r"^([a-z-]+):.*## (.+)$", (ROOT / "Makefile").read_text(), re.M)
    done = subprocess.run(
        ["make", "--no-print-directory"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[1] for line in lines] == [target for target, _help in documented]
    assert {"help", "run", "web", "flower", "test", "test-soak", "lint"} <= {
        target for target, _help in documented
    }
    for line, (target, help_text) in zip(lines, documented, strict=True):
        assert line.split(None, 2) == ["make", target, help_text]
    assert "up to date" not in done.stdout + done.stderr
