"""The operations guides stay true: their facts, their structure and their config snippet."""

import re
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery.schedules import crontab

from config.celery import BEAT_CRON_STARTING_DEADLINE_S, BEAT_EXPIRES_S, app
from config.logs import RETENTION_FILES, ROTATION_BYTES
from maintenance.health import GRACE

ROOT = Path(__file__).resolve().parents[2]
ENGLISH = ROOT / "docs" / "periodic-tasks.md"
RUSSIAN = ROOT / "docs" / "periodic-tasks.ru.md"
GUIDES = pytest.mark.parametrize("guide", [ENGLISH, RUSSIAN], ids=["en", "ru"])

# The headings of the original Russian guide, in order; the extended guide keeps them.
ORIGINAL_HEADINGS = [
    "# Периодические задачи Celery",
    "## Настроенные задачи",
    "### 1. Очистка временных медиа-файлов",
    "### 2. Очистка устаревших токенов",
    "## Ручной запуск задач",
    "## Мониторинг задач",
    "## Настройка расписания",
    "## Логирование",
]


def _python_block(text: str) -> str:
    found = re.findall(r"```python\n(.*?)```", text, re.S)
    blocks = [textwrap.dedent(b) for b in found if "MEDIA_HOSTS" in b]
    assert len(blocks) == 1
    return blocks[0]


def test_the_russian_guide_keeps_the_original_headings_in_order() -> None:
    headings = [line for line in RUSSIAN.read_text().splitlines() if line.startswith("#")]
    assert [h for h in headings if h in ORIGINAL_HEADINGS] == ORIGINAL_HEADINGS


def test_the_readme_links_both_guides_and_they_link_each_other() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "(docs/periodic-tasks.md)" in readme
    assert "(docs/periodic-tasks.ru.md)" in readme
    assert "(periodic-tasks.ru.md)" in ENGLISH.read_text()
    assert "(periodic-tasks.md)" in RUSSIAN.read_text()


@GUIDES
def test_the_guide_states_the_numbers_the_code_uses(guide: Path) -> None:
    text = guide.read_text()
    assert BEAT_EXPIRES_S == BEAT_CRON_STARTING_DEADLINE_S == GRACE.total_seconds() == 6 * 3600
    assert f"{BEAT_EXPIRES_S} s (6:00:00 after the fire time)" in text
    mb = "MB" if guide is ENGLISH else "МБ"
    assert f"{ROTATION_BYTES // 2**20} {mb}" in text
    assert f"backend.log.{RETENTION_FILES}`" in text
    assert "`MAINTENANCE_HISTORY_DAYS` (" in text
    assert """celery -A config call clean_generated_media --kwargs '{"dry_run": true}'""" in text
    assert "every Sunday at 03:00 UTC (cron: 0 3 * * 0)" in text


def test_both_guides_show_the_same_per_host_routing_snippet() -> None:
    assert _python_block(ENGLISH.read_text()) == _python_block(RUSSIAN.read_text())


def test_the_per_host_snippet_routes_one_weekly_media_run_to_each_host_queue() -> None:
    namespace = {
        "app": SimpleNamespace(conf=SimpleNamespace(beat_schedule=None)),
        "crontab": crontab,
        "BEAT_EXPIRES_S": BEAT_EXPIRES_S,
    }
    exec(_python_block(ENGLISH.read_text()), namespace)  # the guide's own code, as written
    schedule = namespace["app"].conf.beat_schedule
    app.loader.import_default_modules()
    assert {name: entry["options"].get("queue") for name, entry in schedule.items()} == {
        "clean-generated-media-weekly-web1": "media.web1",
        "clean-generated-media-weekly-web2": "media.web2",
        "clean-blacklisted-tokens-daily": None,
    }
    for entry in schedule.values():
        assert entry["task"] in app.tasks
        assert entry["options"]["expires"] == BEAT_EXPIRES_S
        assert (
            entry["schedule"]
            == app.conf.beat_schedule[
                "clean-generated-media-weekly"
                if entry["task"] == "clean_generated_media"
                else "clean-blacklisted-tokens-daily"
            ]["schedule"]
        )
