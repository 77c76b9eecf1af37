"""The run-history list shows each run's figures, and the filtered runs' chart above it."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from maintenance.models import MaintenanceRun
from tests.factories import MaintenanceRunFactory

pytestmark = pytest.mark.django_db

LIST = "/admin/maintenance/maintenancerun/"
SVG = "{http://www.w3.org/2000/svg}"


class Rows(HTMLParser):
    """The list's rows as {column: text}, columns named by their `field-*` class."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.field: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        classes = dict(attrs).get("class") or ""
        if tag == "tr":
            self.rows.append({})
        found = re.search(r"\bfield-(\w+)", classes)
        if tag in ("td", "th") and found:
            self.field = found.group(1)
            self.rows[-1][self.field] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.field = None

    def handle_data(self, data: str) -> None:
        if self.field:
            self.rows[-1][self.field] += data.strip()


def rows_of(html: str) -> list[dict[str, str]]:
    parser = Rows()
    parser.feed(html.split('id="result_list"', 1)[1])
    return [row for row in parser.rows if row]


def charts_of(html: str) -> list[ET.Element]:
    """Every inline chart of the page, parsed as XML: it must be well-formed SVG."""
    return [ET.fromstring(svg) for svg in re.findall(r'<svg [^>]*role="img".*?</svg>', html, re.S)]


def marks(svg: ET.Element, panel: int = 0) -> list[ET.Element]:
    (group,) = [g for g in svg.iter(f"{SVG}g") if g.get("data-panel") == str(panel)]
    return [g for g in group.iter(f"{SVG}g") if "run" in g.get("class", "").split()]


@pytest.fixture
def runs() -> dict[str, MaintenanceRun]:
    now = timezone.now()
    return {
        "media": MaintenanceRunFactory(
            media=True,
            started_at=now - timedelta(days=8),
            duration=timedelta(minutes=3, seconds=5),
            summary__deleted=1234,
            summary__bytes_freed=5 << 20,
            summary__errors=2,
        ),
        "failed": MaintenanceRunFactory(
            task="clean_generated_media", failed=True, started_at=now - timedelta(days=1)
        ),
        "tokens": MaintenanceRunFactory(
            tokens=True,
            started_at=now - timedelta(days=2),
            summary__blacklisted_deleted=12,
            summary__outstanding_deleted=30,
            summary__undecodable=1,
            origin=MaintenanceRun.Origin.TASK,
        ),
        "partial": MaintenanceRunFactory(
            tokens=True, started_at=now - timedelta(days=3), summary__completed=False, dry_run=True
        ),
        "old": MaintenanceRunFactory(media=True, started_at=now - timedelta(days=120)),
    }


def test_columns_hold_each_runs_figures(admin_client: Client, runs: dict) -> None:
    html = admin_client.get(LIST).content.decode()
    figures = ("task_name", "origin_key", "outcome_badge", "deleted_files", "bytes_freed")
    figures += ("tokens_deleted", "undecodable", "errors", "duration")
    table = [[row[f] for f in figures] for row in rows_of(html)]
    assert table == [
        ["clean_generated_media", "beat", "failed", "—", "—", "—", "—", "—", "5.0 s"],
        ["clean_blacklisted_tokens", "task", "ok", "—", "—", "12 / 30", "1", "—", "5.0 s"],
        [
            "clean_blacklisted_tokens",
            "beat",
            "partialdry run",
            "—",
            "—",
            "100 / 300",
            "0",
            "—",
            "5.0 s",
        ],
        ["clean_generated_media", "beat", "ok", "1,234", "5.0\xa0MB", "—", "—", "2", "3 min 05 s"],
        ["clean_generated_media", "beat", "ok", "120", "3.0\xa0MB", "—", "—", "0", "5.0 s"],
    ]
    started = runs["media"].started_at.astimezone(UTC)
    assert rows_of(html)[3]["started"] == f"{started:%Y-%m-%d %H:%M}"
    assert 'class="run-badge run-badge-failed"' in html
    assert 'class="run-badge run-badge-partial" title="partial (stopped before the end)"' in html
    assert 'title="direct call (management command, shell)"' not in html
    assert '<span title="task call (celery call, delay, Flower)">task</span>' in html


def test_chart_of_each_task_has_one_mark_per_run_of_the_last_90_days(
    admin_client: Client, runs: dict
) -> None:
    media, tokens = charts_of(admin_client.get(LIST).content.decode())[::-1]
    assert [m.get("data-run-id") for m in marks(media)] == [
        str(runs["media"].pk),
        str(runs["failed"].pk),
    ]
    assert [m.get("data-outcome") for m in marks(media, panel=2)] == ["ok", "failed"]
    assert [m.get("data-outcome") for m in marks(tokens)] == ["partial", "ok"]
    (cross,) = [p for m in marks(media) for p in m.iter(f"{SVG}path")]
    assert cross.get("class") == "cross"  # the failed run: no figures, a cross
    assert len(marks(tokens)[0].findall(f"{SVG}path[@class='flag']")) == 1  # partial: flagged


def test_filters_narrow_both_the_list_and_the_chart(admin_client: Client, runs: dict) -> None:
    html = admin_client.get(LIST, {"task": "clean_blacklisted_tokens"}).content.decode()
    (chart,) = charts_of(html)
    assert [m.get("data-run-id") for m in marks(chart)] == [
        str(runs["partial"].pk),
        str(runs["tokens"].pk),
    ]
    assert len(rows_of(html)) == 2
    html = admin_client.get(LIST, {"outcome": "failed"}).content.decode()
    (chart,) = charts_of(html)
    assert [m.get("data-run-id") for m in marks(chart)] == [str(runs["failed"].pk)]
    assert [row["outcome_badge"] for row in rows_of(html)] == ["failed"]


def test_no_chart_without_runs_in_the_window_and_a_bad_filter_still_redirects(
    admin_client: Client, runs: dict
) -> None:
    assert charts_of(admin_client.get(LIST, {"outcome": "nonsense"}).content.decode()) == []
    response = admin_client.get(LIST, {"no_such_field": "1"})
    assert (response.status_code, response["Location"]) == (302, f"{LIST}?e=1")
    assert MaintenanceRun.objects.count() == 5
