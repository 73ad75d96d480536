"""The production topology of deploy/compose.yml as separate processes: `migrate` once, then the API, two
workers, the scheduler and the embeddings service (with its token), each with the environment compose
gives it; PostgreSQL over TCP with a password, raw pages on the MongoDB wire (nx-27017), objects on S3
(moto). The demo site's pipeline runs through them, started and awaited by the data-update script the
`data-update` workflow runs, to search results served by the API."""

from __future__ import annotations

import importlib.util
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import psycopg
import pytest

from harvest.demo.site import DemoSite, demo_source_spec
from tests.conftest import S3_KEY_ID, S3_SECRET, free_port
from tests.deploy.compose_files import DEPLOY, example_env
from tests.deploy.topology import TcpPostgres, Topology

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SCRIPT = DEPLOY / "update_data.py"


def _update_data() -> ModuleType:
    spec = importlib.util.spec_from_file_location("update_data", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, mongo_base_url: str, s3_endpoint: str
) -> Iterator[Topology]:
    import boto3

    root = tmp_path_factory.mktemp("topology")
    bucket = f"harvest-{uuid.uuid4().hex[:10]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    ).create_bucket(Bucket=bucket)
    postgres = TcpPostgres(root / "postgres", secrets.token_hex(16))
    # deploy/.env as an operator fills it in: an external S3 (moto), this host's CPU embeddings service
    env = example_env(DEPLOY / "compose.yml") | {
        "POSTGRES_PASSWORD": postgres.password,
        "HARVEST_API_TOKEN": secrets.token_hex(16),
        "HARVEST_EMBEDDINGS_TOKEN": secrets.token_hex(16),
        "HARVEST_S3_ACCESS_KEY_ID": S3_KEY_ID,
        "HARVEST_S3_SECRET_ACCESS_KEY": S3_SECRET,
        "HARVEST_S3_ENDPOINT_URL": s3_endpoint,
        "S3_BUCKET": bucket,
        "HARVEST_CRAWL_ALLOWED_HOSTS": "127.0.0.1",  # the demo site is on loopback
    }
    topology = Topology(
        root / "services",
        env,
        addresses={
            "postgres:5432": f"127.0.0.1:{postgres.port}",
            "embeddings:8001": f"127.0.0.1:{free_port()}",
        },
        raw_store_url=f"{mongo_base_url}/harvest_{uuid.uuid4().hex[:8]}",
    )
    topology.root.mkdir()
    try:
        postgres.start()
        compose = topology.compose_services()
        assert set(compose) == {"migrate", "api", "worker", "scheduler", "embeddings"}
        # the embeddings service needs no database: it loads its model while the migration runs
        topology.start("embeddings", *topology.localise("embeddings", *compose["embeddings"]))
        topology.run("migrate", *topology.localise("migrate", *compose["migrate"]))
        topology.start("api", *topology.localise("api", *compose["api"]))
        for n in (1, 2):  # `--scale worker=2`
            topology.start(f"worker-{n}", *topology.localise("worker", *compose["worker"]))
        topology.start("scheduler", *topology.localise("scheduler", *compose["scheduler"]))
        embeddings = topology.addresses["embeddings:8001"]
        topology.wait_healthy(f"http://{embeddings}/health")
        topology.wait_healthy(f"http://127.0.0.1:{topology.api_port}/api/health")
        yield topology
    finally:
        topology.stop_all()
        postgres.stop()


def _api(stack: Topology) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{stack.api_port}",
        headers={"Authorization": f"Bearer {stack.env['HARVEST_API_TOKEN']}"},
        timeout=60,
    )


def _update(stack: Topology, *args: str, token: str | None = None, timeout: float = 300) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    env |= {"HARVEST_API_TOKEN": token or stack.env["HARVEST_API_TOKEN"], "GITHUB_ACTIONS": "true"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--url", f"http://127.0.0.1:{stack.api_port}", "--poll", "1", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_services_use_postgresql_over_tcp_with_a_password(stack: Topology) -> None:
    postgres_url = stack.compose_services()["api"][1]["HARVEST_DATABASE_URL"]
    assert postgres_url.startswith("postgresql://harvest:") and "@postgres:5432/" in postgres_url
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            postgres_url.replace(stack.env["POSTGRES_PASSWORD"], "wrong").replace(
                "@postgres:5432/", f"@{stack.addresses['postgres:5432']}/"
            )
        ).close()
    with _api(stack) as api:
        health = api.get("/api/health").json()
    assert health["database"] == f"harvest@{stack.addresses['postgres:5432']}/harvest"


def test_a_pipeline_runs_through_every_service_to_search_results(stack: Topology) -> None:
    with DemoSite() as site, _api(stack) as api:
        created = api.post("/api/sources", json=demo_source_spec(site.base))
        assert created.status_code == 201, created.text

        update = _update(stack, "--source", "demo")
        assert update.returncode == 0, update.stdout + update.stderr + stack.logs()
        assert "demo: embed succeeded" in update.stdout and "all 1 pipeline(s) succeeded" in update.stdout

        found = api.get("/api/search", params={"q": "sourdough starter"}).json()
        assert found["items"][0]["url"].endswith("/articles/sourdough-san-francisco")
        by_meaning = api.get("/api/search", params={"q": "bread fermentation", "mode": "vector"})
        assert by_meaning.status_code == 200 and by_meaning.json()["items"]

        stores = {s["name"]: s for s in api.get("/api/health", params={"deep": "true"}).json()["stores"]}
    assert "mongo" in stores["raw store"]["backend"].lower(), stores  # raw pages on the MongoDB wire
    assert stores["object store"]["backend"] == "s3", stores
    import pymongo

    with pymongo.MongoClient(stack.raw_store_url, serverSelectionTimeoutMS=5000) as client:
        assert client.get_default_database()["raw_pages"].count_documents({"source": "demo"}) >= 20
    with psycopg.connect(
        stack.compose_services()["api"][1]["HARVEST_DATABASE_URL"].replace(
            "@postgres:5432/", f"@{stack.addresses['postgres:5432']}/"
        )
    ) as conn:
        workers = conn.execute(
            "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > now() - interval '1 minute'"
        ).fetchone()
        ticks = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'harvest.schedule_tick' "
            "AND queue_name = 'schedule' AND status = 'succeeded'"
        ).fetchone()
    assert workers is not None and workers[0] == 3  # two workers and the scheduler, each its own process
    scheduler = next(p for p in stack.processes if p.name == "scheduler")
    assert scheduler.popen.poll() is None and "scheduler started" in scheduler.log.read_text()
    assert ticks is not None and ticks[0] >= 1

    # the queries are embedded by the embeddings service, over HTTP: without it vector search fails
    stack.stop(next(p for p in stack.processes if p.name == "embeddings"))
    with _api(stack) as api:
        failed = api.get("/api/search", params={"q": "bread", "mode": "vector"})
    assert failed.status_code == 503 and failed.json()["error"]["message"]


def test_the_data_update_fails_loudly_naming_the_stage(stack: Topology) -> None:
    module = _update_data()
    refused = _update(stack, token="not-the-token")
    assert refused.returncode == 2
    assert "HTTP 401" in refused.stderr and "HARVEST_API_TOKEN" in refused.stderr
    unknown = _update(stack, "--source", "nope")
    assert unknown.returncode == 2 and "HTTP 404" in unknown.stderr and "nope" in unknown.stderr

    with DemoSite() as site, _api(stack) as api:
        slow = demo_source_spec(site.base, name="slow") | {"delay": 60, "sitemap_urls": []}
        assert api.post("/api/sources", json=slow).status_code == 201
        late = _update(stack, "--source", "slow", "--timeout", "3s")
        assert late.returncode == 1
        assert (
            "source slow: pipeline run" in late.stderr
            and "did not finish in time at stage crawl" in late.stderr
        )
        assert "::error title=data update failed::source slow" in late.stdout
        run_id = api.get("/api/pipelines", params={"source": "slow"}).json()["items"][0]["id"]
        cancelled = api.post(f"/api/pipelines/{run_id}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert module.describe_failure(cancelled).startswith(
        f"source slow: pipeline run {run_id} cancelled at stage crawl"
    )
