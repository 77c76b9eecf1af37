"""The alert rules in deploy/prometheus/: promtool's unit tests, and names the app serves."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest

from config.celery import app
from maintenance.metrics import RunHistoryCollector, registry_for
from tests.factories import DEFAULT_EXP, MaintenanceRunFactory
from tests.programs import require_program

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> subprocess.CompletedProcess:
    program = require_program("promtool", install="apt-get install prometheus")
    return subprocess.run(
        [program, *args], cwd=RULES, capture_output=True, text=True, timeout=60, check=False
    )


def test_rules_are_valid_and_pass_their_promtool_unit_tests() -> None:
    checked = promtool("check", "rules", "maintenance.rules.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout
    tested = promtool("test", "rules", "maintenance.rules.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


@pytest.mark.django_db
def test_every_metric_a_rule_reads_is_one_the_app_serves() -> None:
    MaintenanceRunFactory(media=True)  # so every per-run family has a sample
    MaintenanceRunFactory(media=True, started_at=DEFAULT_EXP.replace(day=11))
    collector = RunHistoryCollector(
        clock=lambda: DEFAULT_EXP.replace(day=12), beat_schedule=lambda: app.conf.beat_schedule
    )
    served = set(
        re.findall(
            r"^(maintenance_\w+?)(?:\{| )", generate_latest(registry_for(collector)).decode(), re.M
        )
    )
    rules = yaml.safe_load((RULES / "maintenance.rules.yml").read_text())
    exprs = " ".join(rule["expr"] for group in rules["groups"] for rule in group["rules"])
    read = set(re.findall(r"\bmaintenance_\w+", exprs))
    assert read == {
        "maintenance_last_success_timestamp_seconds",
        "maintenance_task_max_age_seconds",
        "maintenance_last_run_outcome",
        "maintenance_last_run_duration_seconds",
        "maintenance_baseline_duration_seconds",
    }
    assert read <= served
