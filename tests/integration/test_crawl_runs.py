"""One crawl per source, always; and sources whose URLs the crawler will refuse are flagged at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from harvest.api.app import create_app
from harvest.crawl.runs import create_run, finish_run, get_run, list_runs
from harvest.crawl.sources import add_source
from harvest.crawl.spec import parse_spec
from harvest.db.engine import get_engine
from harvest.errors import ConflictError
from harvest.settings import Settings, settings_env
from tests.conftest import free_port, make_settings, run_cli
from tests.sites.testsite import LocalSite

TOKEN = "runs-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def settings(db_settings: Settings) -> Settings:
    return make_settings(
        **db_settings.model_dump() | {"crawl_allowed_hosts": ["127.0.0.1"], "api_token": TOKEN}
    )


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    server = LocalSite().start()
    yield server
    server.stop()


_names = iter(range(1000))


def new_source(settings: Settings, url: str, **fields: object) -> str:
    name = f"runs{next(_names)}-{os.getpid()}"
    add_source(get_engine(settings), parse_spec({"name": name, "start_urls": [url], **fields}))
    return name


def env_of(settings: Settings) -> dict[str, str]:
    return {k: v for k, v in settings_env(settings).items() if k.startswith("HARVEST_")}


def test_a_queued_run_blocks_a_second_one_until_it_ends(settings: Settings) -> None:
    engine = get_engine(settings)
    source = new_source(settings, "http://127.0.0.1:9/")
    first = create_run(engine, source)  # queued, no heartbeat from a crawl process yet
    with pytest.raises(ConflictError, match=f"already being crawled by run {first} "):
        create_run(engine, source)
    # the CLI, another process, is refused too: exit 2, one line naming the run
    refused = run_cli("crawl", source, env=env_of(settings))
    assert refused.returncode == 2, refused.stderr
    assert f"already being crawled by run {first}" in refused.stderr and "Traceback" not in refused.stderr
    finish_run(engine, first, "cancelled")
    second = create_run(engine, source)
    assert second != first
    finish_run(engine, second, "cancelled")


def test_a_run_whose_process_died_is_closed_as_interrupted_without_waiting(settings: Settings) -> None:
    source = new_source(settings, "http://127.0.0.1:9/")
    # another process creates a run and dies without finishing it (as under SIGKILL)
    script = (
        "import os, sys\n"
        "from harvest.settings import get_settings\n"
        "from harvest.db.engine import get_engine\n"
        "from harvest.crawl.runs import create_run\n"
        f"print(create_run(get_engine(get_settings()), {source!r}), flush=True)\n"
        "os._exit(9)\n"
    )
    dead = subprocess.run(
        [sys.executable, "-c", script], env=settings_env(settings), capture_output=True, text=True, timeout=60
    )
    orphan = int(dead.stdout.strip())
    engine = get_engine(settings)
    started = time.monotonic()
    replacement = create_run(engine, source)
    assert time.monotonic() - started < 5  # decided by the lock its process held, not by a timeout
    assert get_run(engine, orphan).status == "interrupted"
    finish_run(engine, replacement, "cancelled")


def test_two_crawl_requests_at_once_start_one_crawl(settings: Settings, site: LocalSite) -> None:
    source = new_source(settings, site.base + "/gen/0", max_pages=8, concurrency=1)
    engine = get_engine(settings)
    site.delay_s = 0.2
    try:
        with TestClient(create_app(settings)) as client:
            first = client.post(f"/api/sources/{source}/crawl", headers=AUTH)
            second = client.post(f"/api/sources/{source}/crawl", headers=AUTH)
            assert first.status_code == 202, first.text
            assert second.status_code == 409, second.text
            run_id = first.json()["run_id"]
            assert f"already being crawled by run {run_id}" in second.json()["error"]["message"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and get_run(engine, run_id).status in ("queued", "running"):
                time.sleep(0.2)
    finally:
        site.delay_s = 0.0
    assert get_run(engine, run_id).status == "succeeded"
    assert [run.id for run in list_runs(engine, source)] == [run_id]


def test_source_add_warns_about_urls_the_crawler_will_refuse(settings: Settings, tmp_path: Path) -> None:
    closed = free_port()
    env = env_of(settings) | {"HARVEST_CRAWL_ALLOWED_HOSTS": ""}
    added = run_cli(
        "source", "add", "warned", "--url", f"http://127.0.0.1:{closed}/", "--url", "http://no-such.invalid/",
        env=env,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added source warned" in added.stdout
    lines = [line for line in added.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, added.stderr
    assert lines[0].startswith(f"warning: the crawler will not fetch http://127.0.0.1:{closed}/")
    assert "the non-public address 127.0.0.1 (loopback)" in lines[0]
    assert "HARVEST_CRAWL_ALLOWED_HOSTS" in lines[0]
    assert "cannot resolve no-such.invalid" in lines[1]
    edited = run_cli("source", "edit", "warned", "--url", "http://10.0.0.1/", env=env)
    assert edited.returncode == 0 and "10.0.0.1 (private-use)" in edited.stderr
    sources_yaml = tmp_path / "sources.yaml"
    sources_yaml.write_text("sources:\n- name: applied\n  start_urls: ['http://[::ffff:169.254.169.254]/']\n")
    applied = run_cli("source", "apply", str(sources_yaml), env=env)
    assert applied.returncode == 0 and "created: applied" in applied.stdout
    assert "169.254.169.254" in applied.stderr and "link-local" in applied.stderr

    with TestClient(create_app(settings)) as client:  # allow-listed 127.0.0.1: only the other warns
        created = client.post(
            "/api/sources",
            json={"name": "warned-api", "start_urls": ["http://127.0.0.1/", "http://192.168.1.1/"]},
            headers=AUTH,
        )
        assert created.status_code == 201
        [warning] = created.json()["warnings"]
        assert "192.168.1.1 (private-use)" in warning
        patched = client.patch("/api/sources/warned-api", json={"max_pages": 3}, headers=AUTH)
        assert patched.status_code == 200 and patched.json()["warnings"] == []
