"""The `harvest` CLI as a new user runs it: real processes, a real embedded server, real stores."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg
import pytest

from harvest.db.embedded import EmbeddedPostgres
from tests.conftest import S3_KEY_ID, S3_SECRET, run_cli


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory of its own; whatever server a test starts there is stopped afterwards."""
    path = tmp_path / "data"
    yield path
    EmbeddedPostgres(path).stop()


def postmasters(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(pgdata) in cmdline:
            found.append(proc)
    return found


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("harvest ")


@pytest.mark.slow
def test_start_status_stop_and_data_survives_a_restart(data_dir: Path) -> None:
    env = {"HARVEST_DATA_DIR": str(data_dir)}
    stopped = run_cli("db", "status", env=env)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert postmasters(data_dir / "postgres") == []  # status never starts a server

    started = run_cli("db", "start", env=env)
    assert started.returncode == 0, started.stderr
    status = run_cli("db", "status", env=env)
    assert status.returncode == 0
    for expected in ("running", "PostgreSQL 18", "vector", "pg_trgm", "fuzzystrmatch", "up to date"):
        assert expected in status.stdout

    uri = EmbeddedPostgres(data_dir).state().uri("harvest")
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("INSERT INTO sources (name) VALUES ('kept-across-restarts')")

    stop = run_cli("db", "stop", env=env)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    assert postmasters(data_dir / "postgres") == []
    assert "stopped" in run_cli("db", "status", env=env).stdout

    assert run_cli("db", "start", env=env).returncode == 0
    uri = EmbeddedPostgres(data_dir).state().uri("harvest")
    with psycopg.connect(uri) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM sources")]
    assert names == ["kept-across-restarts"]


@pytest.mark.slow
def test_concurrent_commands_share_one_server(data_dir: Path) -> None:
    env = {"HARVEST_DATA_DIR": str(data_dir)}
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: run_cli("db", "start", env=env), range(3)))
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    servers = postmasters(data_dir / "postgres")
    main = [p for p in servers if p.ppid() not in {s.pid for s in servers}]
    assert len(main) == 1


def test_stack_status_on_mongodb_and_s3(
    data_dir: Path, mongo_url: str, s3_endpoint: str, s3_bucket: str
) -> None:
    env = {
        "HARVEST_DATA_DIR": str(data_dir),
        "HARVEST_RAW_STORE_URL": mongo_url,
        "HARVEST_OBJECT_STORE_URL": f"s3://{s3_bucket}/harvest",
        "HARVEST_S3_ENDPOINT_URL": s3_endpoint,
        "HARVEST_S3_ACCESS_KEY_ID": S3_KEY_ID,
        "HARVEST_S3_SECRET_ACCESS_KEY": S3_SECRET,
    }
    result = run_cli("status", env=env)
    assert result.returncode == 0, result.stderr
    assert "mongodb: 0 page versions" in result.stdout
    assert "s3: read/write ok" in result.stdout


def test_config_show_masks_secrets(data_dir: Path) -> None:
    env = {
        "HARVEST_DATA_DIR": str(data_dir),
        "HARVEST_API_TOKEN": "token-do-not-show",
        "HARVEST_S3_SECRET_ACCESS_KEY": "s3-do-not-show",
        "HARVEST_DATABASE_URL": "postgresql://harvest:pw-do-not-show@db.internal:5432/harvest",
        "HARVEST_RAW_STORE_URL": "mongodb://mongo.internal/h?authSource=admin&password=q-do-not-show",
    }
    result = run_cli("config", "show", env=env)
    assert result.returncode == 0
    assert "do-not-show" not in result.stdout
    assert "db.internal" in result.stdout and "authSource=admin" in result.stdout
    assert "HARVEST_API_TOKEN" in result.stdout
    as_json = run_cli("config", "show", "--json", env=env)
    import json

    shown = json.loads(as_json.stdout)
    assert shown["HARVEST_RAW_STORE_URL"].endswith("password=****") and "do-not-show" not in as_json.stdout


def one_error_line(result: object) -> str:
    stderr = result.stderr.strip()  # type: ignore[attr-defined]
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("error: ")
    return stderr


@pytest.mark.parametrize(
    ("env", "code", "names"),
    [
        ({"HARVEST_LOG_LEVEL": "chatty"}, 78, "HARVEST_LOG_LEVEL"),
        ({"HARVEST_CONNECT_TIMEOUT_S": "-1"}, 78, "HARVEST_CONNECT_TIMEOUT_S"),
        ({"HARVEST_OBJECT_STORE_URL": "s3://"}, 78, "HARVEST_OBJECT_STORE_URL"),
        ({"HARVEST_RAW_STORE_URL": "redis://x"}, 78, "HARVEST_RAW_STORE_URL"),
        ({"HARVEST_ENVIRONMENT": "production"}, 78, "HARVEST_API_TOKEN"),
        ({"HARVEST_DATABASE_URL": "postgresql://u:pw-hidden@127.0.0.1:9/h"}, 69, "HARVEST_DATABASE_URL"),
    ],
)
def test_bad_settings_give_one_line_and_an_exit_code(
    data_dir: Path, env: dict[str, str], code: int, names: str
) -> None:
    result = run_cli("db", "status", env={"HARVEST_DATA_DIR": str(data_dir), **env})
    assert result.returncode == code
    line = one_error_line(result)
    assert names in line
    assert "pw-hidden" not in line


def test_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_cli("db", "start", env={"HARVEST_DATA_DIR": str(blocker / "data")})
    assert result.returncode == 73
    assert "HARVEST_DATA_DIR" in one_error_line(result)


def test_foreign_data_dir_is_left_untouched(tmp_path: Path) -> None:
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"jpeg")
    result = run_cli("db", "start", env={"HARVEST_DATA_DIR": str(foreign)})
    assert result.returncode == 73
    assert "not a Harvest data directory" in one_error_line(result)
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.jpg"]


@pytest.mark.slow
def test_corrupt_pgdata_is_refused_and_kept(data_dir: Path) -> None:
    env = {"HARVEST_DATA_DIR": str(data_dir)}
    assert run_cli("db", "start", env=env).returncode == 0
    assert run_cli("db", "stop", env=env).returncode == 0
    control = data_dir / "postgres" / "global" / "pg_control"
    control.rename(control.with_name("pg_control.moved"))
    result = run_cli("db", "start", env=env)
    assert result.returncode == 73
    assert "corrupt" in one_error_line(result)
    assert (data_dir / "postgres" / "PG_VERSION").exists()
    assert control.with_name("pg_control.moved").exists()
