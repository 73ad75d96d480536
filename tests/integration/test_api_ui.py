"""What the web UI reads beyond the basic resources: version texts, a document's mentions, languages,
entity facets, document filters with a total, the error's field, and the built UI served at /."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from harvest.api.app import create_app
from harvest.api.errors import install_error_handlers
from harvest.api.ui import mount_ui
from harvest.settings import Settings
from tests.demo_corpus import demo_corpus

pytestmark = pytest.mark.slow
TOKEN = "ui-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client(db_settings: Settings) -> Iterator[TestClient]:
    with (
        demo_corpus(db_settings, api_token=TOKEN) as (settings, _site),
        TestClient(create_app(settings)) as test_client,
    ):
        yield test_client


def test_document_filters_total_and_languages(client: TestClient) -> None:
    everything = client.get("/api/documents", headers=AUTH, params={"limit": 5}).json()
    assert everything["total"] >= 20 and len(everything["items"]) == 5
    english = client.get("/api/documents", headers=AUTH, params={"language": "en", "limit": 500}).json()
    assert english["total"] == len(english["items"]) > 0
    assert all(d["language"] == "en" for d in english["items"])
    languages = client.get("/api/documents/languages", headers=AUTH).json()["items"]
    assert languages[0]["language"] == "en" and languages[0]["documents"] == english["total"]
    news = client.get("/api/documents", headers=AUTH, params={"label": "kind=news"}).json()
    assert news["total"] == everything["total"]
    for params in ({"label": "kind=sports"}, {"label": "missing"}, {"date_from": "2099-01-01"}):
        assert client.get("/api/documents", headers=AUTH, params=params).json()["total"] == 0
    in_range = client.get(
        "/api/documents", headers=AUTH, params={"date_from": "2000-01-01", "date_to": "2099-12-31"}
    ).json()
    assert in_range["total"] == everything["total"]


def test_a_documents_mentions_and_the_entity_facets_of_documents(client: TestClient) -> None:
    acme = client.get("/api/entities", headers=AUTH, params={"q": "Acme Corporation", "limit": 1}).json()[
        "items"
    ][0]
    first = client.get(f"/api/entities/{acme['id']}/mentions", headers=AUTH).json()["items"][0]
    document_id = first["document_id"]
    mentions = client.get(f"/api/documents/{document_id}/mentions", headers=AUTH).json()["items"]
    listed = client.get(f"/api/documents/{document_id}/chunks", headers=AUTH).json()["items"]
    chunks = {c["id"]: c["text"] for c in listed}
    ours = [m for m in mentions if m["entity_id"] == acme["id"]]
    assert ours and all(m["name"] == acme["name"] for m in ours)
    for m in ours:  # offsets point at the text as written, inside the chunk
        assert chunks[m["chunk_id"]][m["start"] : m["end"]] == m["surface"]
    facets = client.get("/api/entities/facets", headers=AUTH, params={"document": [document_id]}).json()[
        "items"
    ]
    assert any(f["entity_id"] == acme["id"] and f["documents"] == 1 for f in facets)
    assert client.get("/api/documents/99999999/mentions", headers=AUTH).status_code == 404
    assert client.get("/api/entities/facets", headers=AUTH).status_code == 422


def test_version_texts(client: TestClient) -> None:
    documents = client.get("/api/documents", headers=AUTH, params={"limit": 500}).json()["items"]
    document = next(d for d in documents if d["chunks"] > 0)
    version = client.get(f"/api/documents/{document['id']}/versions", headers=AUTH).json()["items"][0][
        "page_version"
    ]
    text = client.get(f"/api/documents/{document['id']}/versions/{version}", headers=AUTH).json()
    assert text["page_version"] == version and len(text["text"]) > 100
    missing = client.get(f"/api/documents/{document['id']}/versions/999", headers=AUTH)
    assert missing.status_code == 404
    assert "no processed page version 999" in missing.json()["error"]["message"]


def test_validation_errors_name_the_field(client: TestClient) -> None:
    bad = client.post("/api/sources", headers=AUTH, json={"name": "x", "start_urls": ["ftp://x.org/"]})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "start_urls"
    assert "only http and https" in bad.json()["error"]["message"]
    query = client.get("/api/search", headers=AUTH, params={"q": "x", "limit": 0})
    assert query.status_code == 422 and query.json()["error"]["field"] == "limit"
    assert "field" not in client.get("/api/documents/99999999", headers=AUTH).json()["error"]


def test_the_built_ui_is_served_with_deep_links_and_the_api_untouched(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "app-123.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/api/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    mount_ui(app, tmp_path)
    with TestClient(app) as c:
        for path in ("/", "/documents/12", "/search?q=x&mode=vector"):
            page = c.get(path)
            assert page.status_code == 200 and "id=root" in page.text
            assert page.headers["cache-control"] == "no-cache"
        asset = c.get("/assets/app-123.js")
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        assert c.get("/favicon.svg").text == "<svg/>"
        assert c.get("/api/ping").json() == {"pong": "yes"}
        for path in ("/api/nothing", "/assets/missing.js", "/docs/x"):
            answer = c.get(path)
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
        assert c.get("/../../etc/passwd").status_code in (200, 404)  # the SPA or nothing, never the file
        assert "root:" not in c.get("/%2e%2e/%2e%2e/etc/passwd").text
    unbuilt = FastAPI()
    mount_ui(unbuilt, tmp_path / "nothing-here")
    with TestClient(unbuilt) as c:
        assert "make ui" in c.get("/sources").text


def test_ui_pages_keep_their_query_strings_while_the_api_refuses_unknown_ones(client: TestClient) -> None:
    page = client.get("/documents", params={"source": "demo", "language": "en", "offset": 20})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert client.get("/api/documents", headers=AUTH, params={"lang": "en"}).status_code == 422
