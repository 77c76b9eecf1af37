"""Settings from the environment: bounds either side of each edge, one line per bad value."""

import sys
from pathlib import Path

import pytest

from config import parsers
from config.env import SettingsError, exit_on_bad_settings, read_environment
from tests.config.bad_settings import BAD_SETTINGS, filled

VARIABLES = tuple(read_environment())


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment where none of the settings' variables is set."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("row", BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys())
def test_a_bad_value_raises_one_line_naming_it(
    environ: pytest.MonkeyPatch, tmp_path: Path, row: tuple[dict[str, str], str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    variables, line = filled(row, str(tmp_path / "a-file"))
    for name, value in variables.items():
        environ.setenv(name, value)

    with pytest.raises(SettingsError) as raised:
        read_environment()

    assert str(raised.value) == line
    assert "\n" not in line


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("GENERATED_MEDIA_MAX_AGE_DAYS", "0", None),
        ("GENERATED_MEDIA_MAX_AGE_DAYS", "1", 1),
        ("GENERATED_MEDIA_MAX_AGE_DAYS", "3650", 3650),
        ("GENERATED_MEDIA_MAX_AGE_DAYS", "3651", None),
        ("MAINTENANCE_HISTORY_DAYS", "0", None),
        ("MAINTENANCE_HISTORY_DAYS", "3650", 3650),
        ("MAINTENANCE_HISTORY_DAYS", "3651", None),
        ("TOKEN_CLEANUP_SAFETY_MARGIN_DAYS", "0", 0),
        ("TOKEN_CLEANUP_SAFETY_MARGIN_DAYS", "3650", 3650),
        ("TOKEN_CLEANUP_SAFETY_MARGIN_DAYS", "3651", None),
        ("TOKEN_CLEANUP_BATCH_SIZE", "0", None),
        ("TOKEN_CLEANUP_BATCH_SIZE", "1", 1),
        ("TOKEN_CLEANUP_BATCH_SIZE", "100000", 100_000),
        ("TOKEN_CLEANUP_BATCH_SIZE", "100001", None),
        ("TOKEN_CLEANUP_BATCH_SIZE", "0005000", None),  # longer than the bound can be
        ("TOKEN_CLEANUP_BATCH_SIZE", "05000", 5000),
        ("MAINTENANCE_RETRY_BACKOFF_S", "0", 0),
        ("MAINTENANCE_RETRY_BACKOFF_S", "3600", 3600),
        ("MAINTENANCE_RETRY_BACKOFF_S", "3601", None),
        ("DATABASE_CONN_MAX_AGE", "86400", 86400),
        ("DATABASE_CONN_MAX_AGE", "86401", None),
    ],
    ids=lambda value: str(value),
)
def test_numbers_are_taken_up_to_their_bounds_and_no_further(
    environ: pytest.MonkeyPatch, name: str, raw: str, value: int | None
) -> None:
    environ.setenv(name, raw)
    if value is None:
        with pytest.raises(SettingsError, match=rf"^{name}='{raw}' is invalid: expected "):
            read_environment()
    else:
        assert read_environment()[name] == value


def test_defaults_when_nothing_is_set(environ: pytest.MonkeyPatch) -> None:
    values = read_environment()

    backend = Path(parsers.__file__).parents[1]
    assert values["DATABASE_URL"]["NAME"] == str(backend / "db.sqlite3")
    assert (values["CELERY_BROKER_URL"], values["LOG_LEVEL"]) == (
        "filesystem://localhost//",
        "INFO",
    )
    assert values["DJANGO_ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "testserver"]
    assert values["GENERATED_MEDIA_KEEP"] == (".gitkeep",)
    assert (values["CELERY_EVENT_QUEUE_EXPIRES"], values["CELERY_CONTROL_QUEUE_EXPIRES"]) == (
        60,
        10,
    )
    assert (values["DJANGO_DEBUG"], values["LOG_JSON"], values["FLOWER_BASIC_AUTH"]) == (
        False,
        False,
        "",
    )
    assert values["LOG_DIR"] == backend / "logs"


def test_good_values_of_every_kind(environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "DATABASE_URL": "postgres://app:pw@db.internal:5433/app",
        "DJANGO_ALLOWED_HOSTS": "api.example.com,.example.org,10.0.0.7,[::1],*",
        "LOG_LEVEL": "warning",
        "DJANGO_DEBUG": "YES",
        "LOG_JSON": "off",
        "GENERATED_MEDIA_KEEP": ",.gitkeep,,README",
        "LOG_DIR": str(tmp_path / "not" / "yet" / "made"),
        "CELERY_RESULT_BACKEND": "db+postgresql://app:pw@db/results",
    }.items():
        environ.setenv(name, value)

    values = read_environment()

    assert values["DATABASE_URL"]["ENGINE"] == "django.db.backends.postgresql"
    assert (values["DATABASE_URL"]["HOST"], values["DATABASE_URL"]["PORT"]) == ("db.internal", 5433)
    assert values["DJANGO_ALLOWED_HOSTS"][-2:] == ["[::1]", "*"]
    assert (values["LOG_LEVEL"], values["DJANGO_DEBUG"], values["LOG_JSON"]) == (
        "WARNING",
        True,
        False,
    )
    assert values["GENERATED_MEDIA_KEEP"] == (".gitkeep", "README")
    assert values["LOG_DIR"] == tmp_path / "not" / "yet" / "made"
    assert not (tmp_path / "not").exists()  # checked, not made: reading has no side effect


def test_a_log_folder_in_an_unwritable_folder_is_refused(
    environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Root passes access(2) almost everywhere, so the refusal is injected at the module's seam."""
    environ.setattr(parsers, "_is_writable", lambda path: path != tmp_path)
    environ.setenv("LOG_DIR", str(tmp_path / "logs"))

    with pytest.raises(SettingsError) as raised:
        read_environment()

    assert str(raised.value) == (
        f"LOG_DIR='{tmp_path}/logs' is invalid: expected a writable folder "
        f"({tmp_path} is not writable)"
    )


def test_a_long_value_is_cut_in_the_line(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("LOG_LEVEL", "x" * 5000)

    with pytest.raises(SettingsError) as raised:
        read_environment()

    assert str(raised.value).startswith(f"LOG_LEVEL='{'x' * 200}...' is invalid: expected one of")


def test_exit_on_bad_settings_prints_the_line_and_exits_2(
    environ: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad_settings_module.py").write_text(
        "from config.env import read_environment\nread_environment()\n"
    )
    environ.syspath_prepend(str(tmp_path))
    environ.setenv("DJANGO_SETTINGS_MODULE", "bad_settings_module")
    environ.setenv("MAINTENANCE_HISTORY_DAYS", "999999")

    with pytest.raises(SystemExit) as exited:
        exit_on_bad_settings()

    assert exited.value.code == 2
    assert capsys.readouterr() == (
        "",
        "MAINTENANCE_HISTORY_DAYS='999999' is invalid: "
        "expected a whole number of days from 1 to 3,650\n",
    )
    assert "bad_settings_module" not in sys.modules


def test_exit_on_bad_settings_returns_when_the_settings_load(
    environ: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "good_settings_module.py").write_text("LOADED = True\n")
    environ.syspath_prepend(str(tmp_path))
    environ.setenv("DJANGO_SETTINGS_MODULE", "good_settings_module")

    exit_on_bad_settings()

    assert sys.modules.pop("good_settings_module").LOADED is True
    assert capsys.readouterr() == ("", "")
