"""The HTTP API against the crawled demo site: auth, every resource, bad input, a real server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from harvest.api.app import create_app
from harvest.settings import Settings
from tests.conftest import free_port, make_settings, wait_for_port
from tests.demo_corpus import demo_corpus

pytestmark = pytest.mark.slow
TOKEN = "api-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def corpus(db_settings: Settings) -> Iterator[Settings]:
    with demo_corpus(db_settings, api_token=TOKEN) as (settings, _site):
        yield settings


@pytest.fixture(scope="module")
def client(corpus: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(corpus)) as test_client:
        yield test_client


def error_of(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    message: str = body["error"]["message"]
    return message


def test_reads_need_the_token_unless_settings_open_them(client: TestClient, corpus: Settings) -> None:
    refused = client.get("/api/search", params={"q": "solar"})
    assert refused.status_code == 401 and "Bearer" in error_of(refused)
    assert client.get("/api/search", params={"q": "solar"}, headers=AUTH).status_code == 200
    with TestClient(create_app(make_settings(**corpus.model_dump() | {"api_public_reads": True}))) as public:
        assert public.get("/api/search", params={"q": "solar"}).status_code == 200
        assert (
            public.post("/api/sources", json={"name": "x", "start_urls": ["https://x.org/"]}).status_code
            == 401
        )
    assert client.get("/api/health").status_code == 200  # health is always open


def test_token_less_and_wrong_token_writes_change_nothing(client: TestClient) -> None:
    before = client.get("/api/sources", headers=AUTH).json()
    new = {"name": "intruder", "start_urls": ["https://example.org/"]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        assert client.post("/api/sources", json=new, headers=headers).status_code == 401
        assert client.patch("/api/sources/demo", json={"max_pages": 1}, headers=headers).status_code == 401
        assert client.delete("/api/sources/demo", headers=headers).status_code == 401
        assert client.post("/api/sources/demo/crawl", headers=headers).status_code == 401
    assert client.get("/api/sources", headers=AUTH).json() == before


def test_search_modes_filters_and_pagination(client: TestClient) -> None:
    for mode in ("vector", "keyword", "hybrid"):
        response = client.get(
            "/api/search", params={"q": "rooftop beehives in Paris", "mode": mode, "limit": 3}, headers=AUTH
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mode"] == mode
        assert body["items"][0]["url"].endswith("/articles/urban-beekeeping-paris")
        assert {"document_id", "chunk_id", "score", "snippet", "url", "fetched_at"} <= set(body["items"][0])
    filtered = client.get(
        "/api/search",
        params={
            "q": "energy",
            "source": "demo",
            "label": "kind=news",
            "language": "en",
            "date_from": "2026-01-01",
        },
        headers=AUTH,
    )
    assert filtered.status_code == 200 and filtered.json()["items"]
    page = client.get("/api/search", params={"q": "energy", "limit": 2}, headers=AUTH).json()
    assert page["next_offset"] == 2


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({"q": ""}, 422, "empty"),
        ({"q": "x" * 10_240}, 422, "10240 characters"),
        ({"q": "ok", "limit": 0}, 422, "limit"),
        ({"q": "ok", "limit": 1000}, 422, "limit"),
        ({"q": "ok", "offset": -3}, 422, "offset"),
        ({"q": "ok", "mode": "psychic"}, 422, "mode"),
        ({"q": "ok", "date_from": "yesterday"}, 422, "date_from"),
        ({"q": "ok", "label": "no spaces allowed"}, 422, "KEY=VALUE"),
        ({"q": "ok", "source": "nope"}, 404, "no source named 'nope'"),
        ({}, 422, "q"),
    ],
)
def test_bad_search_input_is_a_4xx_with_a_reason(
    client: TestClient, params: dict[str, Any], status: int, reason: str
) -> None:
    response = client.get("/api/search", params=params, headers=AUTH)
    assert response.status_code == status, response.text
    assert reason in error_of(response)


def test_documents(client: TestClient) -> None:
    listing = client.get("/api/documents", params={"source": "demo", "limit": 5}, headers=AUTH).json()
    assert len(listing["items"]) == 5 and listing["next_offset"] == 5 and listing["total"] > 5
    article = next(
        d
        for d in client.get("/api/documents", params={"limit": 100}, headers=AUTH).json()["items"]
        if d["url"].endswith("/articles/heat-pumps-germany")
    )
    one = client.get(f"/api/documents/{article['id']}", headers=AUTH).json()
    assert one["title"] == "Heat pumps replace gas boilers in German homes" and "chunks" not in one
    assert one["author"] == "Anna Schmidt" and one["language"] == "en"
    versions = client.get(f"/api/documents/{article['id']}/versions", headers=AUTH).json()
    assert [v["page_version"] for v in versions["items"]] == [1]
    chunks = client.get(f"/api/documents/{article['id']}/chunks", headers=AUTH).json()["items"]
    assert chunks and "Stuttgart" in " ".join(c["text"] for c in chunks)
    similar = client.get(f"/api/documents/{article['id']}/similar", params={"limit": 3}, headers=AUTH)
    assert similar.status_code == 200 and len(similar.json()["items"]) == 3
    assert client.get("/api/documents/999999999", headers=AUTH).status_code == 404
    assert client.get("/api/documents/0", headers=AUTH).status_code == 422
    assert client.get("/api/documents/abc", headers=AUTH).status_code == 422
    assert client.get("/api/documents", params={"source": "nope"}, headers=AUTH).status_code == 404


def test_sources_crud_and_a_triggered_crawl(client: TestClient) -> None:
    created = client.post(
        "/api/sources", json={"name": "blog", "start_urls": ["https://blog.example.org/"]}, headers=AUTH
    )
    assert created.status_code == 201 and created.json()["allowed_domains"] == ["blog.example.org"]
    again = client.post("/api/sources", json={"name": "blog", "start_urls": ["https://x.org/"]}, headers=AUTH)
    assert again.status_code == 409
    invalid = client.post("/api/sources", json={"name": "bad", "start_urls": ["ftp://x"]}, headers=AUTH)
    assert invalid.status_code == 422 and "start_urls" in error_of(invalid)
    changed = client.patch("/api/sources/blog", json={"max_pages": 7}, headers=AUTH)
    assert changed.status_code == 200 and changed.json()["max_pages"] == 7
    assert client.patch("/api/sources/blog", json={"max_pages": -1}, headers=AUTH).status_code == 422
    assert client.get("/api/sources/blog", headers=AUTH).json()["max_pages"] == 7  # nothing half-applied
    assert client.delete("/api/sources/blog", headers=AUTH).status_code == 204
    assert client.get("/api/sources/blog", headers=AUTH).status_code == 404

    started = client.post("/api/sources/demo/crawl", headers=AUTH)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}", headers=AUTH).json()
        if run["status"] not in ("queued", "running"):
            break
        time.sleep(0.3)
    assert run["status"] == "succeeded", run
    assert run["counts"]["unchanged"] > 0 and run["counts"]["new"] == 0  # the site has not changed
    runs = client.get("/api/runs", params={"source": "demo"}, headers=AUTH).json()
    assert runs["items"][0]["id"] == run_id
    assert client.get("/api/runs/999999", headers=AUTH).status_code == 404


def test_health_and_openapi(client: TestClient) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["active_model"]
    deep = client.get("/api/health", params={"deep": "true"}, headers=AUTH).json()
    assert {s["name"] for s in deep["stores"]} == {"raw store", "object store"}
    schema = client.get("/openapi.json").json()
    assert {"/api/search", "/api/documents/{document_id}/similar", "/api/sources/{name}/crawl"} <= set(
        schema["paths"]
    )
    assert client.get("/docs").status_code == 200


def test_a_real_server_answers_over_http(corpus: Settings) -> None:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(corpus), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/search",
            params={"q": "chess championship"},
            headers=AUTH,
            timeout=30,
        )
        assert response.status_code == 200
        assert response.json()["items"][0]["url"].endswith("/articles/oslo-chess-championship")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_post_search_with_a_vector_of_ones_own(client: TestClient, corpus: Settings) -> None:
    from sqlalchemy import text

    from harvest.db.engine import get_engine

    with get_engine(corpus).connect() as conn:
        vector = conn.execute(
            text(
                "SELECT e.embedding::text FROM chunk_embeddings e JOIN chunks c ON c.id = e.chunk_id "
                "JOIN documents d ON d.id = c.document_id WHERE d.url LIKE '%/exoplanet-atmosphere' LIMIT 1"
            )
        ).scalar_one()
    values = [float(x) for x in vector.strip("[]").split(",")]
    found = client.post("/api/search", json={"q": "planet", "mode": "vector", "vector": values}, headers=AUTH)
    assert found.status_code == 200, found.text
    assert found.json()["items"][0]["url"].endswith("/articles/exoplanet-atmosphere")
    wrong = client.post(
        "/api/search", json={"q": "planet", "mode": "vector", "vector": [0.1, 0.2]}, headers=AUTH
    )
    assert wrong.status_code == 422 and "384" in error_of(wrong)
    zero = client.post("/api/search", json={"q": "planet", "vector": [0.0] * 384}, headers=AUTH)
    assert zero.status_code == 422


def test_pipelines_are_queued_listed_and_cancelled(client: TestClient) -> None:
    assert client.post("/api/sources/demo/run").status_code == 401
    started = client.post("/api/sources/demo/run", headers=AUTH)
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["status"] == "queued" and [s["stage"] for s in run["stages"]] == [
        "crawl",
        "process",
        "entities",
        "embed",
    ]
    assert client.post("/api/sources/demo/run", headers=AUTH).json()["id"] == run["id"]  # one at a time
    listed = client.get("/api/pipelines", params={"source": "demo"}, headers=AUTH).json()
    assert listed["items"][0]["id"] == run["id"]
    cancelled = client.post(f"/api/pipelines/{run['id']}/cancel", headers=AUTH)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/pipelines/{run['id']}/cancel", headers=AUTH)
    assert again.status_code == 422 and "already ended" in error_of(again)
    assert client.get("/api/pipelines/99999", headers=AUTH).status_code == 404


def test_every_collection_has_the_one_envelope(client: TestClient) -> None:
    """Every GET route that lists something (found from the app's routes, so new ones are covered)
    answers items/total/limit/offset/next_offset."""
    from fastapi.routing import iter_route_contexts

    from harvest.api.schemas import Page

    ids = {
        "document_id": client.get("/api/search", params={"q": "energy"}, headers=AUTH).json()["items"][0][
            "document_id"
        ],
        "entity_id": client.get("/api/entities", params={"limit": 1}, headers=AUTH).json()["items"][0]["id"],
    }
    listed = 0
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        model = getattr(route, "response_model", None)
        if "GET" not in (route.methods or ()):
            continue
        if not (isinstance(model, type) and issubclass(model, Page)):
            continue
        path = route.path.format(**ids)
        params = {"q": "energy"} if path == "/api/search" else {}
        body = client.get(path, params=params | {"limit": 2}, headers=AUTH).json()
        assert {"items", "total", "limit", "offset", "next_offset"} <= set(body), (path, body)
        assert body["limit"] == 2 and len(body["items"]) <= 2, path
        listed += 1
    assert listed >= 9


@pytest.mark.parametrize(
    "path",
    ["/api/documents?language=fr", "/api/search?q=energy&sources=demo", "/api/runs?status=failed"],
)
def test_unknown_query_parameters_are_refused(client: TestClient, path: str) -> None:
    response = client.get(path, headers=AUTH)
    assert response.status_code == 422, response.text
    name = path.split("&")[-1].split("?")[-1].split("=")[0]
    assert f"unknown query parameter '{name}'" in error_of(response)


def test_sources_have_a_typed_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    create = schema["paths"]["/api/sources"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    created = components[create["$ref"].rsplit("/", 1)[-1]]
    assert {"name", "start_urls", "max_pages", "schedule", "render"} <= set(created["properties"])
    assert created["required"] == ["name"]
    listed = schema["paths"]["/api/sources"]["get"]["responses"]["200"]["content"]["application/json"]
    assert components[listed["schema"]["$ref"].rsplit("/", 1)[-1]]["properties"]["items"]["items"]["$ref"]
    patch = schema["paths"]["/api/sources/{name}"]["patch"]["requestBody"]["content"]["application/json"]
    changes = components[patch["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert "max_pages" in changes["properties"] and "name" not in changes["properties"]
    unknown_field = client.patch("/api/sources/demo", json={"max_pagez": 3}, headers=AUTH)
    assert unknown_field.status_code == 422 and "max_pagez" in error_of(unknown_field)


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "cdn." not in html and "googleapis" not in html, page
        assets = [part.split('"')[0] for part in html.split('src="')[1:]] + [
            part.split('"')[0] for part in html.split('href="')[1:]
        ]
        local = [a for a in assets if a.startswith("/")]
        assert local and all(a.startswith("/") for a in assets if a.endswith((".js", ".css"))), assets
        for asset in local:
            assert client.get(asset).status_code == 200, asset


def test_api_errors_do_not_tell_api_users_to_run_commands(client: TestClient) -> None:
    for path in ("/api/documents/999999", "/api/search?q=x&source=nope", "/api/pipelines?source=nope"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 404
        assert "harvest " not in error_of(response), error_of(response)
