"""What the API refuses, on an empty database (fast): writes without the token (every write endpoint, found
from the app's routes so new ones are covered), oversized bodies, too many requests, poison input (bad
cron, unparsable hosts, lone surrogates, the last day of the calendar), and what health shows to whom."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import text

from harvest.api.app import create_app
from harvest.api.auth import require_read, require_write
from harvest.api.limits import rate_limit
from harvest.db.engine import get_engine
from harvest.settings import Settings
from tests.conftest import make_settings

TOKEN = "guards-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def client_for(settings: Settings, **overrides: Any) -> TestClient:
    app = create_app(
        make_settings(**settings.model_dump() | {"api_token": TOKEN} | overrides), load_model=False
    )
    return TestClient(app)


@pytest.fixture(scope="module")
def client(db_settings: Settings) -> Iterator[TestClient]:
    with client_for(db_settings, api_rate_limits={}) as test_client:
        yield test_client


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return str(body["error"]["message"])


def calls_of(dependant: Any) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= calls_of(sub)
    return found


def routes_by_access(app: FastAPI) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(writes, reads) among the routes that are not GET: every route that changes something depends on
    require_write; a POST that only reads (a search with a body) declares require_read instead."""
    writes: list[tuple[str, str]] = []
    reads: list[tuple[str, str]] = []
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        methods = (route.methods or set()) & WRITE_METHODS
        if dependant is None or not methods:
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1).endswith("id") else "demo", route.path or "")
        calls = calls_of(dependant)
        assert require_write in calls or require_read in calls, f"{methods} {route.path} declares no access"
        (writes if require_write in calls else reads).extend((method, path) for method in sorted(methods))
    return writes, reads


def test_every_write_endpoint_is_refused_without_the_token(client: TestClient) -> None:
    writes, reads = routes_by_access(client.app)  # type: ignore[arg-type]
    assert len(writes) >= 8 and ("POST", "/api/search") in reads, (writes, reads)
    for method, path in writes + reads:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            response = client.request(method, path, json={}, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"
    settings = client.app.state.settings  # type: ignore[attr-defined]
    public = make_settings(**settings.model_dump() | {"api_public_reads": True})
    with TestClient(create_app(public, load_model=False)) as open_reads:
        for method, path in writes:  # public reads never open writes
            assert open_reads.request(method, path, json={}).status_code == 401, (method, path)


def test_oversized_bodies_are_refused_with_413(client: TestClient) -> None:
    limit = int(client.app.state.settings.api_max_body_mb * 1024 * 1024)  # type: ignore[attr-defined]
    big = b'{"q": "' + b"x" * (limit + 10) + b'"}'
    declared = client.post("/api/search", content=big, headers=AUTH | {"Content-Type": "application/json"})
    assert declared.status_code == 413 and "over the limit" in error_of(declared)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body streams in chunks
        yield b'{"q": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    streamed = client.post(
        "/api/search", content=chunks(), headers=AUTH | {"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413 and "over the limit" in error_of(streamed)
    small = client.post("/api/search", json={"q": "fine"}, headers=AUTH)
    assert small.status_code == 200, small.text


def test_expensive_endpoints_are_rate_limited_per_client(db_settings: Settings) -> None:
    with client_for(db_settings, api_rate_limits="search=3/min,train=1/h") as limited:
        answers = [limited.get("/api/search", params={"q": "x"}, headers=AUTH) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert "at most 3 per minute" in error_of(answers[-1])
        assert limited.get("/api/documents", headers=AUTH).status_code == 200  # cheap reads are not limited
        # the hook other routers use (e.g. training): limited by its own group's setting
        router = APIRouter()

        @router.post("/api/train-probe", dependencies=[Depends(rate_limit("train"))])
        def probe() -> dict[str, str]:
            return {"ok": "yes"}

        limited.app.include_router(router)  # type: ignore[attr-defined]
        assert limited.post("/api/train-probe").status_code == 200
        assert limited.post("/api/train-probe").status_code == 429
    with client_for(db_settings, api_rate_limits="search=off") as unlimited:  # can be switched off
        assert all(
            unlimited.get("/api/search", params={"q": "x"}, headers=AUTH).status_code == 200
            for _ in range(40)
        )


@pytest.mark.parametrize("schedule", ["61 25 * * *", "99 99 99 99 99", "0 0 31 2 *", "often"])
def test_a_bad_cron_is_refused_before_it_is_stored(client: TestClient, schedule: str) -> None:
    created = client.post(
        "/api/sources",
        json={"name": "cron", "start_urls": ["https://e.org/"], "schedule": schedule},
        headers=AUTH,
    )
    assert created.status_code == 422 and "schedule" in error_of(created)
    assert client.get("/api/sources/cron", headers=AUTH).status_code == 404


def test_a_stored_bad_cron_is_skipped_for_its_source_alone(db_settings: Settings) -> None:
    from datetime import UTC, datetime

    from harvest.jobs.schedule import due_sources, list_schedules

    with client_for(db_settings) as api:
        for name in ("every-minute", "broken"):
            body = {"name": name, "start_urls": ["https://e.org/"], "schedule": "* * * * *"}
            assert api.post("/api/sources", json=body, headers=AUTH).status_code == 201
    with get_engine(db_settings).begin() as conn:  # written by an older version, or by hand
        conn.execute(text("UPDATE sources SET schedule = '0 0 31 2 *' WHERE name = 'broken'"))
    assert due_sources(db_settings, datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) == ["every-minute"]
    views = {v.source: v for v in list_schedules(db_settings)}
    assert views["every-minute"].next_at is not None
    assert views["broken"].next_at is None and "never fires" in (views["broken"].error or "")


def test_an_ipv6_start_url_is_stored_readable_and_nothing_half_written(client: TestClient) -> None:
    created = client.post(
        "/api/sources", json={"name": "v6", "start_urls": ["http://[::1]:18092/"]}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    assert created.json()["allowed_domains"] == ["::1"]
    listed = client.get("/api/sources", headers=AUTH)
    assert listed.status_code == 200 and "v6" in [s["name"] for s in listed.json()["items"]]
    assert client.delete("/api/sources/v6", headers=AUTH).status_code == 204


def test_a_poison_row_never_takes_the_listing_down(client: TestClient, db_settings: Settings) -> None:
    body = {"name": "poisoned", "start_urls": ["https://e.org/"], "include": ["/a/"]}
    assert client.post("/api/sources", json=body, headers=AUTH).status_code == 201
    with get_engine(db_settings).begin() as conn:
        conn.execute(
            text(
                "UPDATE sources SET include_patterns = ARRAY['(unclosed'], "
                "allowed_domains = ARRAY['not a domain/'] WHERE name = 'poisoned'"
            )
        )
    listed = client.get("/api/sources", headers=AUTH)
    assert listed.status_code == 200, listed.text
    poisoned = next(s for s in listed.json()["items"] if s["name"] == "poisoned")
    assert poisoned["include"] == [] and poisoned["allowed_domains"] == ["e.org"]  # read as defaults
    fixed = client.patch("/api/sources/poisoned", json={"include": ["/b/"]}, headers=AUTH)
    assert fixed.status_code == 200 and fixed.json()["include"] == ["/b/"]
    assert client.delete("/api/sources/poisoned", headers=AUTH).status_code == 204


@pytest.mark.parametrize(
    "body",
    [
        {"q": "\ud800"},
        {"q": "fine", "source": ["\ud800"]},
        {"q": "fine", "label": ["k=\udfff"]},
        {"q": "a\x00b"},
    ],
)
def test_text_no_store_can_hold_is_a_422(client: TestClient, body: dict[str, Any]) -> None:
    # json.dumps escapes a lone surrogate as \ud800, as any JSON client may send it
    content = json.dumps(body)
    response = client.post(
        "/api/search", content=content, headers=AUTH | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text


def test_a_lone_surrogate_in_a_source_is_a_422(client: TestClient) -> None:
    content = '{"name": "s", "start_urls": ["https://e.org/\\ud800"]}'
    response = client.post(
        "/api/sources", content=content, headers=AUTH | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert client.get("/api/sources/s", headers=AUTH).status_code == 404


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_the_ends_of_the_calendar_are_dates_like_any_other(client: TestClient, day: str) -> None:
    for params in ({"q": "x", "date_to": day}, {"q": "x", "date_from": "0001-01-01", "date_to": day}):
        assert client.get("/api/search", params=params, headers=AUTH).status_code == 200
    assert client.post("/api/search", json={"q": "x", "date_to": day}, headers=AUTH).status_code == 200


def test_health_tells_strangers_little_and_deep_checks_need_the_token(client: TestClient) -> None:
    anonymous = client.get("/api/health")
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert body["database"] is None and body["instance"] is None
    assert "/" not in str(body["counts"]) and "postgres" not in anonymous.text  # no socket path, no URL
    assert set(body["counts"]) == {"sources", "pages", "documents", "chunks", "vectors"}
    assert body["estimated"] == []  # small tables: exact counts
    refused = client.get("/api/health", params={"deep": "true"})
    assert refused.status_code == 401 and "token" in error_of(refused)
    deep = client.get("/api/health", params={"deep": "true"}, headers=AUTH).json()
    assert {s["name"] for s in deep["stores"]} == {"raw store", "object store"} and deep["database"]


def test_health_counts_are_exact_after_writes(client: TestClient) -> None:
    before = client.get("/api/health").json()["counts"]["sources"]
    assert (
        client.post(
            "/api/sources", json={"name": "counted", "start_urls": ["https://e.org/"]}, headers=AUTH
        ).status_code
        == 201
    )
    assert client.get("/api/health").json()["counts"]["sources"] == before + 1
    client.delete("/api/sources/counted", headers=AUTH)


def test_production_refuses_a_short_token() -> None:
    from harvest.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 32 characters"):
        make_settings(environment="production", api_token="x")
    with pytest.raises(ConfigError, match="at least 32 characters"):
        make_settings(environment="production", api_token="a" * 31)
    assert make_settings(environment="production", api_token="a" * 32).environment == "production"
