"""A running task's PROGRESS state, as a real worker stores it in its result backend.

The worker cleans a folder of 20,000 old files (about a second of work); the test polls the
task's state in the result backend meanwhile, as Flower and `celery result` read it.
"""

import json
import os
import time

import pytest

from tests.live.conftest import OLD
from tests.live.stack import LiveStack

pytestmark = [pytest.mark.live, pytest.mark.timeout(180)]

# The PROGRESS state lasts from the first report (at 4,096 entries) until SUCCESS: with
# 20,000 files a quiet machine finished in a few polls, and the poll could miss it.
FILES = 60_000


@pytest.mark.parametrize(
    "live_stack",
    ["embedded", pytest.param("servers", marks=pytest.mark.servers, id="redis+postgres")],
    indirect=True,
)
def test_a_long_media_run_reports_progress_then_its_summary(
    live_stack: LiveStack, request: pytest.FixtureRequest
) -> None:
    for i in range(FILES):
        path = live_stack.media_root / f"{i:05d}.png"
        path.write_bytes(b"x")
        os.utime(path, (OLD.timestamp(), OLD.timestamp()))
    client = live_stack.client()
    result = client.send_task("clean_generated_media")
    states: list[tuple[str, object]] = []
    flower_states: set[str] = set()  # Flower, watching this stack's events: task-progress
    flower = request.getfixturevalue("flower") if live_stack.name == "embedded" else None
    deadline = time.monotonic() + 60
    while not result.ready() and time.monotonic() < deadline:
        states.append((result.state, result.info))
        if flower is not None:
            status, body = flower.get(
                f"/api/task/info/{result.id}", auth=(flower.user, flower.password)
            )
            flower_states.add(json.loads(body)["state"] if status == 200 else str(status))
        time.sleep(0.02)
    assert result.ready(), f"not done after 60 s:\n{live_stack.log_tail()}"
    summary = result.get(timeout=10)
    progress = [info for state, info in states if state == "PROGRESS"]
    assert progress, f"no PROGRESS state among {sorted({s for s, _ in states})}"
    first = progress[0]
    assert 4096 <= first["scanned"] < FILES  # counts so far, mid-run
    assert 0 <= first["deleted"] <= first["scanned"]
    assert first["elapsed_s"] >= 0
    assert first["dry_run"] is False
    assert first["hostname"] == live_stack.node  # what STARTED held stays: pid, hostname
    assert first["pid"] > 0
    assert [p["scanned"] for p in progress] == sorted(p["scanned"] for p in progress)
    assert (summary["scanned"], summary["deleted"]) == (FILES, FILES)
    assert result.state == "SUCCESS"
    assert list(live_stack.media_root.iterdir()) == []
    if flower is not None:
        assert "PROGRESS" in flower_states, f"flower saw only {flower_states}"
