"""The run history in a real browser: log in, read the columns and the chart, screenshot.

Playwright drives Debian's Chromium (`executable_path`: Playwright's own browser download
is not available here); `.ci/run` installs it. Screenshots go to test-artifacts/.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, sync_playwright

from maintenance.models import MaintenanceRun
from tests.factories import MaintenanceRunFactory
from tests.programs import require_program

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "a-browser-test-password"


@pytest.fixture
def runs(transactional_db: None) -> list[MaintenanceRun]:
    """Five media runs a week apart, the fourth failed, and one token run."""
    now = timezone.now()
    media = [
        MaintenanceRunFactory(
            media=True, started_at=now - timedelta(days=7 * (5 - week)), summary__deleted=100 * week
        )
        for week in range(5)
    ]
    media[3].outcome, media[3].summary = MaintenanceRun.Outcome.FAILED, None
    media[3].save()
    tokens = MaintenanceRunFactory(tokens=True, started_at=now - timedelta(hours=3))
    return [*media, tokens]


def log_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/maintenance/maintenancerun/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/maintenance/maintenancerun/")


def test_operator_sees_figures_and_chart_in_both_themes(
    live_server: object, runs: list[MaintenanceRun], django_user_model: type
) -> None:
    django_user_model.objects.create_superuser("operator", password=PASSWORD)
    chromium = require_program("/usr/bin/chromium", install="apt-get install chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    media = [run for run in runs if run.task == "clean_generated_media"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for theme in ("light", "dark"):
            page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme=theme)
            log_in(page, live_server.url)
            page.goto(
                f"{live_server.url}/admin/maintenance/maintenancerun/?task=clean_generated_media"
            )

            deleted = page.locator("#result_list td.field-deleted_files").all_inner_texts()
            assert deleted == ["400", "—", "200", "100", "0"]  # newest first; failed: none
            badges = page.locator("#result_list .run-badge").all_inner_texts()
            assert badges == ["ok", "failed", "ok", "ok", "ok"]
            freed = page.locator("#result_list td.field-bytes_freed").all_inner_texts()
            assert freed == ["3.0\xa0MB", "—", "3.0\xa0MB", "3.0\xa0MB", "3.0\xa0MB"]

            chart = page.locator("figure.run-chart")
            assert chart.count() == 1  # the filtered task only
            first_panel = chart.locator("[data-panel='0'] g.run")
            assert first_panel.count() == len(media)
            ids = [int(i) for i in (g.get_attribute("data-run-id") for g in first_panel.all())]
            assert ids == [run.pk for run in media]
            failed = chart.locator("[data-panel='0'] g.run-failed")
            assert failed.get_attribute("data-run-id") == str(media[3].pk)
            assert failed.locator("path.cross").is_visible()
            assert "failed" in failed.locator("title").text_content()

            # Readable at 1,280 px: neither the page nor the list scrolls sideways, so every
            # column is in view, the last one (duration) included.
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280
            results = page.locator("#changelist .results")
            assert results.evaluate("e => e.scrollWidth <= e.clientWidth")
            box = page.locator("#result_list th.column-duration").bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= 1280
            page.screenshot(path=ARTIFACTS / f"admin-run-history-{theme}.png", full_page=True)
            page.close()
        browser.close()
    assert (ARTIFACTS / "admin-run-history-light.png").stat().st_size > 10_000
