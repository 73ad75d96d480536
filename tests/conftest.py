"""Session fixtures: each real component starts once (embedded PostgreSQL, a MongoDB-wire server, an S3 API).

PostgreSQL: one migrated template database per session, copied per test module (`CREATE DATABASE …
TEMPLATE`), so every module starts from the real migrated schema and no module sees another's rows.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

# Tests never pick up a developer's own HARVEST_* settings (HARVEST_TEST_* are the suite's own knobs).
for _name in [n for n in os.environ if n.startswith("HARVEST_") and not n.startswith("HARVEST_TEST_")]:
    del os.environ[_name]
# Servers of fresh data directories keep PostgreSQL's default shared buffers, so they start without the
# restart a new size takes (tests/integration/test_database.py checks the sizing itself).
os.environ["HARVEST_EMBEDDED_SHARED_BUFFERS_MB"] = "128"

from harvest.db.embedded import EmbeddedPostgres, ServerState  # noqa: E402
from harvest.db.engine import dispose_engines, get_engine  # noqa: E402
from harvest.settings import Settings, load_settings  # noqa: E402

TEMPLATE_DB = "harvest_template"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`gpu` tests run only where PyTorch sees CUDA."""
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (no GPU on this machine)")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)


def make_settings(**overrides: object) -> Settings:
    """Settings for a test: no `.env` file, only what the test names."""
    return load_settings(_env_file=None, **overrides)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


# -- PostgreSQL ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("harvest-data")


@pytest.fixture(scope="session")
def pg_server(pg_data_dir: Path) -> Iterator[ServerState]:
    server = EmbeddedPostgres(pg_data_dir)
    state = server.start()
    yield state
    dispose_engines()
    server.stop()


def _admin(state: ServerState) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(state.uri("postgres"), autocommit=True)


@pytest.fixture(scope="session")
def pg_template(pg_server: ServerState, pg_data_dir: Path) -> str:
    """A database migrated to head, used as the template of every module's database."""
    settings = make_settings(data_dir=pg_data_dir, database_name=TEMPLATE_DB)
    get_engine(settings)  # creates and migrates it
    dispose_engines()  # a template must have no open connections
    return TEMPLATE_DB


@pytest.fixture(scope="module")
def db_settings(pg_server: ServerState, pg_template: str, pg_data_dir: Path) -> Iterator[Settings]:
    """Settings on a fresh copy of the migrated template database, private to this test module."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with _admin(pg_server) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield make_settings(data_dir=pg_data_dir, database_name=name, mlflow_database=f"{name}_mlflow")
    dispose_engines()
    with _admin(pg_server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'DROP DATABASE IF EXISTS "{name}_mlflow" WITH (FORCE)')  # made by MLflow's first use


@pytest.fixture
def fresh_db_settings(pg_server: ServerState, pg_template: str, pg_data_dir: Path) -> Iterator[Settings]:
    """Like db_settings, but a database of this test's own."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with _admin(pg_server) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield make_settings(data_dir=pg_data_dir, database_name=name, mlflow_database=f"{name}_mlflow")
    dispose_engines()
    with _admin(pg_server) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'DROP DATABASE IF EXISTS "{name}_mlflow" WITH (FORCE)')


# -- MongoDB (wire protocol) -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def mongo_base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MongoDB when HARVEST_TEST_MONGODB_URI is set, else nx-27017 on loopback, via pymongo."""
    external = os.environ.get("HARVEST_TEST_MONGODB_URI")
    if external:
        yield external.rstrip("/")
        return
    workdir = tmp_path_factory.mktemp("nx27017")
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "nx-27017"),
            "--data-dir",
            str(workdir),
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
            "--pid-file",
            str(workdir / "nx.pid"),
            "--log-file",
            str(workdir / "nx.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"mongodb://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def mongo_url(mongo_base_url: str) -> str:
    """A MongoDB URL naming a database of its own for this test."""
    return f"{mongo_base_url}/harvest_test_{uuid.uuid4().hex[:10]}"


# -- S3 -----------------------------------------------------------------------------------------------
S3_KEY_ID = "harvest-test"
S3_SECRET = "harvest-test-secret"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 API server on loopback (a real HTTP S3 endpoint; boto3 talks to it over the wire)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"harvest-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    )
    client.create_bucket(Bucket=name)
    return name


# -- the CLI ------------------------------------------------------------------------------------------
def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `harvest …` as a user would: a new process, its own environment, no `.env` from the repo."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    full_env.update(env or {})
    full_env.setdefault("COLUMNS", "200")
    return subprocess.run(
        [sys.executable, "-m", "harvest", *args],
        env=full_env,
        capture_output=True,
        stdin=subprocess.DEVNULL,  # never waits for input; confirmations see no terminal
        text=True,
        timeout=timeout,
        cwd=Path(__file__).parent,
    )
