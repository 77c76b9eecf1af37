"""The production topology, end to end: deploy/Procfile's processes under a moving fake clock.

One timeline (tests/live/topology_timeline.py, run once by the module fixture), on Redis and
PostgreSQL, with GENERATED_MEDIA_HOSTS=web1,web2: web (gunicorn), a general worker, Flower,
a media worker per web host (own media root, own queue) and beat, all started by honcho,
all under one libfaketime clock (tests/live/topology.py). The tests below read what the
timeline recorded, so their order does not matter.
"""

from datetime import datetime, timedelta

import pytest
import redis

from tests.live.conftest import LIVE_DB, REDIS_AMQP_RESULTS_DB, _postgres_admin
from tests.live.processes import ProcessRegistry
from tests.live.servers import LIVE_POSTGRES_URL, LIVE_REDIS_URL, require_server
from tests.live.stack import LiveStack
from tests.live.topology import FakeClock, Topology, require_libfaketime
from tests.live.topology_timeline import TOKENS, WEB1, WEB2, Observed, run_timeline, utc

pytestmark = [
    pytest.mark.live,
    pytest.mark.servers,
    pytest.mark.topology,
    pytest.mark.timeout(90),  # the whole timeline runs in the first test's setup
    # No test here touches the test database, but pytest-django creates it (which
    # tests/conftest.py's django_db_setup then dates) only for a session that asks for it.
    pytest.mark.django_db,
]

# Redis holds only the broker, in the third of this session's reserved database numbers
# (the RabbitMQ stack keeps its results there, under other keys): numbers past the three
# belong to other sessions on the machine, whose workers would take these messages.
# Results go to PostgreSQL, beside the history.
BROKER_DB = REDIS_AMQP_RESULTS_DB
BROKER_KEYS = ("celery", "media.web1", "media.web2", "unacked", "unacked_index", "_kombu.*")
DATABASE = f"{LIVE_DB}_topology"


# --- the timeline, once per module ---------------------------------------------------------
@pytest.fixture(scope="module")
def observed(
    tmp_path_factory: pytest.TempPathFactory,
    live_processes: ProcessRegistry,
    django_db_setup: None,
    django_db_blocker,
) -> Observed:
    require_server("Redis", LIVE_REDIS_URL)
    require_server("PostgreSQL", LIVE_POSTGRES_URL)
    library = require_libfaketime()
    root = tmp_path_factory.mktemp("topology")
    _forget_broker_keys()
    with _postgres_admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    stack = LiveStack(
        name="topology",
        root=root,
        broker_url=f"{LIVE_REDIS_URL}/{BROKER_DB}",
        result_backend="db+"
        + LIVE_POSTGRES_URL.replace("postgres://", "postgresql+psycopg://")
        + f"/{DATABASE}",
        database_url=f"{LIVE_POSTGRES_URL}/{DATABASE}",
    )
    topology = Topology(stack, FakeClock(root / "faketime.rc", library), live_processes)
    roots = {host: root / host / "generated_media" for host in ("web1", "web2")}
    try:
        with django_db_blocker.unblock():
            stack.open_database()
            return run_timeline(topology, roots)
    finally:
        topology.stop_all()
        with django_db_blocker.unblock():
            stack.close_database()
        with _postgres_admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        _forget_broker_keys()


def _forget_broker_keys() -> None:
    with redis.Redis.from_url(f"{LIVE_REDIS_URL}/{BROKER_DB}") as client:
        for pattern in BROKER_KEYS:
            for key in client.scan_iter(match=pattern):
                client.delete(key)


def runs(observed: Observed, entry: str) -> dict[datetime, list[str]]:
    """Outcomes per fire time of one entry."""
    found: dict[datetime, list[str]] = {}
    for row in observed.rows:
        if row["beat_entry"] == entry:
            found.setdefault(row["fire_time"], []).append(row["outcome"])
    return found


def test_each_entry_ran_once_per_fire_time_and_no_other_run_happened(observed: Observed) -> None:
    assert runs(observed, TOKENS) == {
        utc(2026, 3, 7, 2): ["ok"],
        utc(2026, 3, 8, 2): ["ok"],
        utc(2026, 3, 9, 2): ["ok", "duplicate"],  # two beats
        utc(2026, 3, 10, 2): ["ok"],  # beat back within the deadline
        **{utc(2026, 3, day, 2): ["ok"] for day in range(11, 16)},
        # nothing on Monday 03-16: beat back after the deadline, then:
        utc(2026, 3, 17, 2): ["ok"],  # the next fire time, as usual
    }
    assert runs(observed, WEB1) == {utc(2026, 3, 8, 3): ["ok"], utc(2026, 3, 15, 3): ["ok"]}
    assert runs(observed, WEB2) == {utc(2026, 3, 8, 3): ["ok"]}  # then its worker died
    assert len(observed.rows) == 14
    assert {row["origin"] for row in observed.rows} == {"beat"}


def test_runs_started_at_their_fire_times_on_the_fake_clock(observed: Observed) -> None:
    for row in observed.rows:
        if row["fire_time"] == utc(2026, 3, 10, 2):
            continue  # caught up at beat's restart, below
        assert row["fire_time"] <= row["started_at"] < row["fire_time"] + timedelta(seconds=30)


def test_a_beat_back_within_the_deadline_runs_the_missed_fire_time_once_at_restart(
    observed: Observed,
) -> None:
    [row] = [r for r in observed.rows if r["fire_time"] == utc(2026, 3, 10, 2)]
    assert observed.restarted_at is not None
    assert observed.restarted_at <= row["started_at"] < observed.restarted_at + timedelta(minutes=1)


def test_a_beat_back_after_the_deadline_skips_the_missed_fire_time_and_sends_the_next_once(
    observed: Observed,
) -> None:
    log = observed.late_restart_log
    assert "LocalTime -> 2026-03-16 08:00:0" in log  # started on the fake clock
    sends = [line for line in log.splitlines() if "Scheduler: Sending due task" in line]
    assert len(sends) == 1
    assert "| 2026-03-17 02:00:00." in sends[0]  # loguru's time: Tuesday's fire time
    assert f"Sending due task {TOKENS} " in sends[0]
    idle = log[: log.index(sends[0])]
    assert idle.count("beat: Waking up in") >= 3  # ticks at 08:00, nothing sent


def test_the_second_beats_copy_was_acknowledged_logged_and_recorded_duplicate(
    observed: Observed,
) -> None:
    monday = [r for r in observed.rows if r["fire_time"] == utc(2026, 3, 9, 2)]
    ok, duplicate = sorted(monday, key=lambda row: row["outcome"] != "ok")
    assert duplicate["outcome"] == "duplicate"
    assert duplicate["task_id"] != ok["task_id"]
    assert duplicate["summary"] is None
    line = "WARNING  | maintenance.once:claim:"  # loguru's stderr format
    warnings = [x for x in observed.worker_log.splitlines() if line in x]
    assert len(warnings) == 1
    assert (
        f"duplicate beat run skipped: clean_blacklisted_tokens {TOKENS} at "
        f"2026-03-09T02:00:00+00:00 was already claimed" in warnings[0]
    )
    assert f"Task clean_blacklisted_tokens[{duplicate['task_id']}] succeeded" in observed.worker_log


def test_the_runs_did_the_real_work_each_host_on_its_own_root(observed: Observed) -> None:
    assert observed.tokens_after_saturday == {"live"}
    assert observed.media_after_sunday == {"web1": {"young-web1.png"}, "web2": {"young-web2.png"}}
    for row in observed.rows:
        if row["beat_entry"] in (WEB1, WEB2) and row["fire_time"] == utc(2026, 3, 8, 3):
            host = row["beat_entry"].rsplit("-", 1)[1]
            assert row["summary"]["root"].endswith(f"/{host}/generated_media")
            assert row["summary"]["deleted"] == 1


def test_health_command_and_endpoint_were_healthy_after_sunday(observed: Observed) -> None:
    returncode, report = observed.health_after_sunday
    assert returncode == 0
    assert report["status"] == "ok"
    assert [(t["entry"], t["status"]) for t in report["tasks"]] == [
        (WEB1, "OK"),
        (WEB2, "OK"),
        (TOKENS, "OK"),
    ]
    status, body = observed.endpoint_after_sunday
    assert (status, body["status"]) == (200, "ok")
    assert body["tasks"] == report["tasks"]


def test_flower_listed_the_runs(observed: Observed) -> None:
    assert len(observed.flower_states) == 4
    assert set(observed.flower_states.values()) == {"SUCCESS"}


def test_one_hosts_dead_media_worker_turns_only_its_entry_stale(observed: Observed) -> None:
    returncode, report, stderr = observed.health_after_web2_died
    assert returncode == 1
    assert f"periodic maintenance is stale: {WEB2}" in stderr
    assert [(t["entry"], t["status"]) for t in report["tasks"]] == [
        (WEB1, "OK"),
        (WEB2, "STALE"),
        (TOKENS, "OK"),
    ]
    status, body = observed.endpoint_after_web2_died
    assert (status, body["status"]) == (503, "stale")
    assert [t["status"] for t in body["tasks"]] == ["OK", "STALE", "OK"]


def test_every_process_of_the_topology_is_gone(observed: Observed) -> None:
    assert observed.leftovers == []
