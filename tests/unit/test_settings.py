from __future__ import annotations

import re
from pathlib import Path

import pytest

from harvest.errors import ConfigError
from harvest.settings import Settings, masked
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]


def test_defaults_are_the_embedded_profile(tmp_path: Path) -> None:
    settings = make_settings(data_dir=tmp_path)
    assert settings.embedded_database
    assert settings.raw_store_url is None and settings.object_store_url is None
    assert settings.pgdata_dir == tmp_path / "postgres"
    assert settings.objects_dir == tmp_path / "objects"


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARVEST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HARVEST_LOG_LEVEL", "debug")
    monkeypatch.setenv("HARVEST_RAW_STORE_URL", "mongodb://mongo:27017/harvest")
    settings = make_settings()
    assert (settings.data_dir, settings.log_level) == (tmp_path, "DEBUG")
    assert settings.raw_store_url == "mongodb://mongo:27017/harvest"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"HARVEST_DATA_DIR={tmp_path}/x\nHARVEST_OBJECT_STORE_URL=s3://bucket/pre\n")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.data_dir == tmp_path / "x"
    assert settings.object_store_url == "s3://bucket/pre"


@pytest.mark.parametrize(
    ("field", "value", "names"),
    [
        ("database_url", "mysql://db/x", "HARVEST_DATABASE_URL"),
        ("raw_store_url", "redis://x", "HARVEST_RAW_STORE_URL"),
        ("object_store_url", "s3:///nobucket", "HARVEST_OBJECT_STORE_URL"),
        ("object_store_url", "ftp://host/x", "HARVEST_OBJECT_STORE_URL"),
        ("log_level", "LOUD", "HARVEST_LOG_LEVEL"),
        ("connect_timeout_s", 0, "HARVEST_CONNECT_TIMEOUT_S"),
    ],
)
def test_invalid_values_name_the_setting(field: str, value: object, names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        make_settings(**{field: value})


def test_production_refuses_the_default_token() -> None:
    with pytest.raises(ConfigError, match="HARVEST_API_TOKEN"):
        make_settings(environment="production")
    secret = "a-real-secret-of-32-characters-x"
    assert make_settings(environment="production", api_token=secret).environment == "production"


def test_masked_hides_secrets_and_url_passwords() -> None:
    shown = masked(
        make_settings(
            api_token="t0ken",
            s3_secret_access_key="s3cret",
            database_url="postgresql://u:hunter2@db:5432/h",
            raw_store_url="mongodb://mongo/h?authSource=admin&password=pw9",
            embeddings_url="http://gpu:8001/?token=tok3n",
        )
    )
    text = " ".join(shown.values())
    for secret in ("t0ken", "s3cret", "hunter2", "pw9", "tok3n"):
        assert secret not in text
    assert shown["HARVEST_DATABASE_URL"] == "postgresql://u:****@db:5432/h"
    assert shown["HARVEST_RAW_STORE_URL"] == "mongodb://mongo/h?authSource=admin&password=****"
    socket = make_settings(database_url="postgresql:///h?host=/run/pg&port=5433")
    assert masked(socket)["HARVEST_DATABASE_URL"] == "postgresql:///h?host=/run/pg&port=5433"


def test_rate_limits_are_read_written_and_checked() -> None:
    from harvest.settings import settings_env

    settings = make_settings(api_rate_limits="search=5/s, crawl=2/min,run=off")
    assert settings.api_rate_limits == {"search": (5.0, 1.0), "crawl": (2.0, 60.0)}
    assert make_settings(api_rate_limits="").api_rate_limits == {}  # empty: no limits
    assert set(make_settings().api_rate_limits) >= {"search", "crawl", "run", "train", "predict"}
    # a child process (harvest up's API) gets the same limits
    assert settings_env(settings)["HARVEST_API_RATE_LIMITS"] == "search=5/s,crawl=2/min"
    for bad in ("search", "search=many/s", "search=3/week"):
        with pytest.raises(ConfigError, match="HARVEST_API_RATE_LIMITS"):
            make_settings(api_rate_limits=bad)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("61 25 * * *", "out of range"),
        ("99 99 99 99 99", "out of range"),
        ("0 0 30 2 *", "never fires"),
        ("often", "not a cron schedule"),
        ("* * * * * *", "not a cron schedule"),
    ],
)
def test_cron_is_checked_for_range_and_reachable_dates(expression: str, reason: str) -> None:
    from harvest.cron import check_cron

    with pytest.raises(ValueError, match=reason):
        check_cron(expression)
    with pytest.raises(ConfigError, match="HARVEST_UPDATE_ALL_SCHEDULE"):
        make_settings(update_all_schedule=expression)
    assert check_cron("  0   3 * * * ") == "0 3 * * *" and check_cron("@daily") == "@daily"


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^(HARVEST_[A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M))
    fields = {f"HARVEST_{name.upper()}" for name in Settings.model_fields}
    assert fields - documented == set(), "add these to .env.example"
    assert documented - fields == set(), ".env.example documents settings that do not exist"
