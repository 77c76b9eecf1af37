"""The one timeline of tests/live/test_topology.py: what it does to the topology, in order.

- Sat 2026-03-07 01:59:30: start; the clock passes Sat 02:00, Sun 02:00, Sun 03:00 (both hosts).
- A second beat: both send Mon 02:00; one run cleans, the other is recorded `duplicate`.
- Beat stopped over Tue 02:00, back at 07:00 (within 6 h): the run is sent once, at restart.
- web2's media worker killed: on Sun 03-15 only web1 runs; at 09:00:30 only web2 is stale.
- Beat stopped over Mon 03-16 02:00, back at 08:00:01 (6 h 1 s late): three ticks, nothing
  sent; then Tue 03-17 02:00, the next fire time, sent once.
`run_timeline` returns what it saw (`Observed`); the tests only read that.
"""

import json
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from maintenance.models import MaintenanceRun
from tests.live.conftest import file_with_mtime, mint_refresh_token
from tests.live.processes import FlowerProcess, free_port, wait_for
from tests.live.stack import LiveStack
from tests.live.topology import FLOWER_AUTH, Topology

TOKENS, WEB1, WEB2 = (
    "clean-blacklisted-tokens-daily",
    "clean-generated-media-weekly-web1",
    "clean-generated-media-weekly-web2",
)
START = datetime(2026, 3, 7, 1, 59, 30, tzinfo=UTC)  # a Saturday
OLD = datetime(2026, 2, 1, tzinfo=UTC)
# Each jump lands this long before a fire time: every process re-reads the clock file
# within a second (tests/live/topology.py), so all agree on the time before it fires.
EARLY = timedelta(seconds=1.5)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class Observed:
    rows: list[dict] = field(default_factory=list)  # every history row, at the end
    tokens_after_saturday: set[str] = field(default_factory=set)
    media_after_sunday: dict[str, set[str]] = field(default_factory=dict)
    health_after_sunday: tuple[int, dict] = (0, {})
    endpoint_after_sunday: tuple[int, dict] = (0, {})
    flower_states: dict[str, str] = field(default_factory=dict)  # task id -> state
    restarted_at: datetime | None = None
    late_restart_log: str = ""  # beat's log from its restart past the deadline to Tue 02:00
    health_after_web2_died: tuple[int, dict, str] = (0, {}, "")
    endpoint_after_web2_died: tuple[int, dict] = (0, {})
    worker_log: str = ""
    leftovers: list[int] = field(default_factory=list)
    wall_s: float = 0.0


def _get(url: str) -> tuple[int, dict]:
    """GET a JSON document; (status, body), 503 included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _rows(alias: str) -> list[dict]:
    return list(
        MaintenanceRun.objects.using(alias)
        .order_by("id")
        .values("beat_entry", "fire_time", "outcome", "origin", "started_at", "task_id", "summary")
    )


def _plant(stack: LiveStack, roots: dict[str, Path]) -> None:
    for host, root in roots.items():
        root.mkdir(parents=True)
        file_with_mtime(root, f"old-{host}.png", OLD)
        file_with_mtime(root, f"young-{host}.png", utc(2026, 3, 7, 12))  # < 7 d at Sun 03:00
    for name, exp in (("expired", utc(2026, 2, 20)), ("live", utc(2026, 4, 30))):
        token = mint_refresh_token(stack.alias, exp=exp, blacklisted=True)
        OutstandingToken.objects.using(stack.alias).filter(pk=token.pk).update(jti=name)


def run_timeline(topology: Topology, roots: dict[str, Path]) -> Observed:
    started, observed, clock = time.monotonic(), Observed(), topology.clock
    alias = topology.stack.alias

    def wait_run(entry: str, fire: datetime, count: int = 1) -> None:
        runs = MaintenanceRun.objects.using(alias).filter(beat_entry=entry, fire_time=fire)
        try:
            wait_for(
                lambda: runs.exclude(outcome="running").count() >= count,
                timeout_s=90,
                what=f"{count} finished run(s) of {entry} for {fire:%a %H:%M}",
            )
        except TimeoutError as error:  # what beat and the worker last said, for the report
            tails = {
                group: [
                    line
                    for line in topology.log(group).read_text(errors="replace").splitlines()
                    if "Waking up" not in line
                ][-15:]
                for group in ("beat", "main")
            }
            raise TimeoutError(f"{error}\n{tails}") from None

    def jump_to(fire: datetime) -> None:
        clock.set(fire - EARLY)

    def start_beat(group: str, state: str) -> None:
        """Start beat on the schedule file in `state`; wait for its first idle tick."""
        (topology.stack.root / state).mkdir(exist_ok=True)  # systemd: StateDirectory=
        topology.start(
            group, "beat", BEAT_STATE_DIR=str(topology.stack.root / state), LOG_LEVEL="DEBUG"
        )
        topology.wait_log(group, "beat: Waking up in")

    clock.set(START)
    _plant(topology.stack, roots)
    port = free_port()
    topology.start("main", "web", "worker", "flower", port=port)  # ports: +0, +100, +200
    for host, root in roots.items():
        topology.start(f"media-{host}", "media", MEDIA_HOST=host, GENERATED_MEDIA_ROOT=str(root))
    for group, node in (
        ("main", "worker@"),
        ("media-web1", "media@web1"),
        ("media-web2", "media@web2"),
    ):
        topology.wait_log(group, f"{node}", timeout_s=90)
        topology.wait_log(group, "ready.", timeout_s=90)
    web = f"http://127.0.0.1:{port}/api/health/maintenance/"
    flower = FlowerProcess(port + 200, *FLOWER_AUTH, topology.groups["main"], topology.log("main"))
    wait_for(lambda: _answers(web), timeout_s=60, what="web")
    wait_for(flower.answers, timeout_s=60, what="flower")

    clock.set(START)  # beat starts at 01:59:30 whatever the rest took to boot
    start_beat("beat", "beat1")
    assert clock.now() < utc(2026, 3, 7, 1, 59, 55), "beat took over 25 s to start"

    jump_to(utc(2026, 3, 7, 2))
    wait_run(TOKENS, utc(2026, 3, 7, 2))
    observed.tokens_after_saturday = set(
        OutstandingToken.objects.using(alias).values_list("jti", flat=True)
    )
    jump_to(utc(2026, 3, 8, 2))
    wait_run(TOKENS, utc(2026, 3, 8, 2))
    jump_to(utc(2026, 3, 8, 3))
    wait_run(WEB1, utc(2026, 3, 8, 3))
    wait_run(WEB2, utc(2026, 3, 8, 3))
    observed.media_after_sunday = {h: {p.name for p in r.iterdir()} for h, r in roots.items()}
    done = topology.manage("maintenance_health", "--json")
    observed.health_after_sunday = (done.returncode, json.loads(done.stdout))
    observed.endpoint_after_sunday = _health_at(web, utc(2026, 3, 8, 3))
    sunday_ids = [r["task_id"] for r in _rows(alias)]
    observed.flower_states = wait_for(
        lambda: _flower_states(flower, sunday_ids), timeout_s=30, what="flower to list the runs"
    )

    start_beat("beat2", "beat2")
    jump_to(utc(2026, 3, 9, 2))  # both beats send Monday's run
    wait_run(TOKENS, utc(2026, 3, 9, 2), count=2)
    topology.stop("beat2")

    topology.stop("beat")  # down over Tuesday 02:00
    clock.set(utc(2026, 3, 10, 7))  # 5 h late: within the 6 h catch-up deadline
    observed.restarted_at = clock.now()
    start_beat("beat", "beat1")
    wait_run(TOKENS, utc(2026, 3, 10, 2))

    topology.kill_celery("media-web2")
    for day in range(11, 16):  # Wednesday to Sunday: no fire time is missed on the way
        jump_to(utc(2026, 3, day, 2))
        wait_run(TOKENS, utc(2026, 3, day, 2))
    jump_to(utc(2026, 3, 15, 3))
    wait_run(WEB1, utc(2026, 3, 15, 3))
    clock.set(utc(2026, 3, 15, 9, 0, 30))  # web2's last success + 7 d 6 h has passed
    done = topology.manage("maintenance_health", "--json")
    observed.health_after_web2_died = (done.returncode, json.loads(done.stdout), done.stderr)
    observed.endpoint_after_web2_died = _health_at(web, utc(2026, 3, 15, 9, 0, 30))

    topology.stop("beat")  # down over Monday 02:00
    clock.set(utc(2026, 3, 16, 8, 0, 1))  # 6 h 1 s late: past the deadline
    start_beat("beat", "beat1")
    topology.wait_log("beat", "beat: Waking up in", count=3)  # three ticks, nothing due
    jump_to(utc(2026, 3, 17, 2))  # the next fire time
    wait_run(TOKENS, utc(2026, 3, 17, 2))
    sent = f"Sending due task {TOKENS}"
    wait_for(  # honcho copies beat's lines a little later; then three ticks, no second send
        lambda: (
            sent in (log := topology.run_log("beat"))
            and log.split(sent)[-1].count("Waking up in") >= 3
        ),
        timeout_s=30,
        what="three ticks of beat after it sent Tuesday's run",
    )
    observed.late_restart_log = topology.run_log("beat")

    observed.rows = _rows(alias)
    observed.worker_log = topology.log("main").read_text(errors="replace")
    observed.leftovers = topology.stop_all()
    observed.wall_s = time.monotonic() - started
    print(f"topology timeline: {observed.wall_s:.1f} s wall time")
    return observed


def _health_at(url: str, moment: datetime) -> tuple[int, dict]:
    """The web health report once the web process's clock reads `moment` or later.

    Each process re-reads the clock file within a second of a jump, not all at once.
    """
    return wait_for(
        lambda: (found := _get(url))[1]["checked_at"] >= moment.isoformat() and found,
        timeout_s=30,
        what=f"the web process's clock to reach {moment:%a %H:%M:%S}",
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # 503 is an answer
    except OSError:
        return False


def _flower_states(flower: FlowerProcess, task_ids: list[str]) -> dict[str, str] | None:
    tasks = flower.api("/api/tasks")
    states = {task_id: tasks.get(task_id, {}).get("state") for task_id in task_ids}
    return states if all(state == "SUCCESS" for state in states.values()) else None
