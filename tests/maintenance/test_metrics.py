"""The Prometheus metrics: names and values against known history rows, at a known time."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from config.celery import app
from maintenance.history import prune_history
from maintenance.metrics import RunHistoryCollector, registry_for
from maintenance.models import MaintenanceRun, PrunedRuns
from tests.clock import utc
from tests.factories import MaintenanceRunFactory

pytestmark = pytest.mark.django_db

NOW = utc(2026, 3, 5, 12)
MEDIA, TOKENS = "clean_generated_media", "clean_blacklisted_tokens"


def scrape(now: datetime = NOW) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape, parsed as Prometheus would."""
    collector = RunHistoryCollector(clock=lambda: now, beat_schedule=lambda: app.conf.beat_schedule)
    text = generate_latest(registry_for(collector)).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def of(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def history() -> None:
    """Media: 3 ok runs of 10, 20, 30 s, a dry run, then the last ok run (5 s).
    Tokens: an ok run, then a failed one; 5 ok runs pruned long ago."""
    for day, seconds in ((1, 10), (8, 20), (15, 30)):
        MaintenanceRunFactory(
            media=True,
            started_at=datetime(2026, 2, day, 3, tzinfo=UTC),
            duration=timedelta(seconds=seconds),
        )
    MaintenanceRunFactory(media=True, started_at=datetime(2026, 3, 1, 3, tzinfo=UTC))
    MaintenanceRunFactory(
        media=True, dry_run=True, started_at=datetime(2026, 2, 20, 9, tzinfo=UTC), summary__errors=9
    )
    MaintenanceRunFactory(tokens=True, started_at=datetime(2026, 3, 4, 2, tzinfo=UTC))
    MaintenanceRunFactory(
        task=TOKENS,
        failed=True,
        started_at=datetime(2026, 3, 5, 2, tzinfo=UTC),
        duration=timedelta(seconds=7),
    )
    PrunedRuns.objects.create(task=TOKENS, outcome="ok", runs=5)


BEAT_ONLY = ("running", "duplicate")


def test_every_metric_against_the_history(history: None) -> None:
    samples = scrape()
    media_done = datetime(2026, 3, 1, 3, 0, 5, tzinfo=UTC).timestamp()
    tokens_ok = datetime(2026, 3, 4, 2, 0, 5, tzinfo=UTC).timestamp()
    assert samples == {
        ("maintenance_task_healthy", (("task", MEDIA),)): 1.0,
        ("maintenance_task_healthy", (("task", TOKENS),)): 0.0,  # 34 h since its success
        ("maintenance_task_max_age_seconds", (("task", MEDIA),)): 7 * 86400 + 6 * 3600,
        ("maintenance_task_max_age_seconds", (("task", TOKENS),)): 86400 + 6 * 3600,
        **{
            ("maintenance_runs_total", (("outcome", outcome), ("task", task))): value
            for task, outcome, value in [
                (TOKENS, "ok", 6.0),  # 1 in the history + 5 pruned
                (TOKENS, "partial", 0.0),
                (TOKENS, "failed", 1.0),
                (MEDIA, "ok", 4.0),  # the dry run left out
                (MEDIA, "partial", 0.0),
                (MEDIA, "failed", 0.0),
                # A beat run's claim and a second beat's copy (maintenance/once.py).
                *[(task, outcome, 0.0) for task in (TOKENS, MEDIA) for outcome in BEAT_ONLY],
            ]
        },
        ("maintenance_last_success_timestamp_seconds", (("task", TOKENS),)): tokens_ok,
        ("maintenance_last_success_timestamp_seconds", (("task", MEDIA),)): media_done,
        **{
            ("maintenance_last_run_outcome", (("outcome", outcome), ("task", task))): value
            for task, outcome, value in [
                (TOKENS, "ok", 0.0),
                (TOKENS, "partial", 0.0),
                (TOKENS, "failed", 1.0),
                (MEDIA, "ok", 1.0),
                (MEDIA, "partial", 0.0),
                (MEDIA, "failed", 0.0),
                *[(task, outcome, 0.0) for task in (TOKENS, MEDIA) for outcome in BEAT_ONLY],
            ]
        },
        ("maintenance_last_run_timestamp_seconds", (("task", TOKENS),)): (
            datetime(2026, 3, 5, 2, 0, 7, tzinfo=UTC).timestamp()
        ),
        ("maintenance_last_run_timestamp_seconds", (("task", MEDIA),)): media_done,
        ("maintenance_last_run_duration_seconds", (("task", TOKENS),)): 7.0,
        ("maintenance_last_run_duration_seconds", (("task", MEDIA),)): 5.0,
        # The failed token run has no figures: no count samples for tokens.
        ("maintenance_last_run_deleted_files", (("task", MEDIA),)): 120.0,
        ("maintenance_last_run_freed_bytes", (("task", MEDIA),)): float(3 << 20),
        ("maintenance_last_run_errors", (("task", MEDIA),)): 0.0,
        # Media: median of 10, 20, 30 s; tokens: one ok run before the last, of 5 s.
        ("maintenance_baseline_duration_seconds", (("task", MEDIA),)): 20.0,
        ("maintenance_baseline_duration_seconds", (("task", TOKENS),)): 5.0,
    }


def test_token_counts_and_a_task_known_only_to_the_history() -> None:
    MaintenanceRunFactory(
        tokens=True,
        started_at=datetime(2026, 3, 5, 2, tzinfo=UTC),
        summary__outstanding_deleted=300,
        summary__blacklisted_deleted=100,
        summary__undecodable=2,
    )
    MaintenanceRunFactory(task="an_old_task", started_at=datetime(2026, 1, 1, tzinfo=UTC))
    samples = scrape()
    assert of(samples, "maintenance_last_run_deleted_tokens", task=TOKENS) == 300
    assert of(samples, "maintenance_last_run_deleted_blacklisted_tokens", task=TOKENS) == 100
    assert of(samples, "maintenance_last_run_undecodable_tokens", task=TOKENS) == 2
    assert of(samples, "maintenance_last_run_deleted_files", task=TOKENS) is None
    assert of(samples, "maintenance_runs_total", task="an_old_task", outcome="failed") == 1
    assert of(samples, "maintenance_task_healthy", task="an_old_task") is None  # not in beat
    assert of(samples, "maintenance_baseline_duration_seconds", task=TOKENS) is None  # no earlier
    assert of(samples, "maintenance_last_success_timestamp_seconds", task=MEDIA) is None  # never
    assert of(samples, "maintenance_task_healthy", task=MEDIA) == 0.0


def test_pruning_moves_runs_into_the_tally_so_the_counter_never_drops(history: None) -> None:
    before = scrape()
    deleted = prune_history(now=NOW + timedelta(days=20), max_age=timedelta(days=30))
    after = scrape(NOW + timedelta(days=20))
    assert deleted == 4  # three old media runs and the dry run; the last successes stay
    assert MaintenanceRun.objects.count() == 3
    assert dict(PrunedRuns.objects.values_list("task", "runs")) == {TOKENS: 5, MEDIA: 3}
    assert str(PrunedRuns.objects.get(task=MEDIA)) == "clean_generated_media ok: 3 pruned"
    totals = {k: v for k, v in before.items() if k[0] == "maintenance_runs_total"}
    assert {k: after[k] for k in totals} == totals


def test_the_endpoint_serves_the_exposition_format(client: Client, history: None) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f.type for f in text_string_to_metric_families(response.content.decode())}
    assert families["maintenance_runs"] == "counter"
    assert families["maintenance_last_run_duration_seconds"] == "gauge"
    assert client.post("/metrics").status_code == 405
