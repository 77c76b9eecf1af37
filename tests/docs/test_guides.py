"""The operations guides stay true: their facts, their structure and the shipped Procfile."""

import re
from pathlib import Path

import pytest

from config.celery import BEAT_CRON_STARTING_DEADLINE_S, BEAT_EXPIRES_S, beat_schedule
from config.hosts import parse_media_hosts
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
    words = {ENGLISH: "At 03:00, only on Sunday", RUSSIAN: "В 03:00, только в воскресенье"}
    assert f"{words[guide]} (UTC, cron: 0 3 * * 0)" in text


def _procfile_block(text: str) -> list[str]:
    [block] = re.findall(r"```procfile\n(.*?)```", text, re.S)
    return block.splitlines()


@GUIDES
def test_the_guide_shows_the_shipped_procfile_as_it_is(guide: Path) -> None:
    shipped = (ROOT / "deploy" / "Procfile").read_text().splitlines()
    processes = [line for line in shipped if line and not line.startswith("#")]
    assert _procfile_block(guide.read_text()) == processes


@GUIDES
def test_the_guide_names_the_per_host_entries_and_queues_the_setting_creates(guide: Path) -> None:
    text = guide.read_text()
    hosts = parse_media_hosts("web1,web2")
    assert "`GENERATED_MEDIA_HOSTS=web1,web2`" in text
    for name, entry in beat_schedule(hosts).items():
        if entry["task"] == "clean_generated_media":
            assert f"`{name}`" in text
            assert f"`{entry['options']['queue']}`" in text
    assert "celery -A config call clean_generated_media --queue media.web1" in text
    assert "`clean-generated-media-weekly`" in text  # the single entry, without hosts
    assert "`duplicate beat run skipped: …`" in text  # once.py's WARNING line
    assert "`duplicate`" in text
    for unit in (ROOT / "deploy" / "systemd").glob("*.service"):
        assert unit.stem.replace("@", "@web1") in text
