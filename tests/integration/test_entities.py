"""Entities on the crawled demo site with its catalog: fuzzy mentions, resolution with kept decisions,
bad imports, dedupe of a labelled CSV, the entity search filter and the API."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from harvest.api.app import create_app
from harvest.db.engine import get_engine
from harvest.db.models import Entity
from harvest.entities.catalog import import_records, read_records
from harvest.entities.resolve import pairwise_scores
from harvest.entities.service import (
    extract_mentions,
    find_entity,
    link,
    resolve_entities,
    search_entities,
)
from harvest.errors import InvalidInputError, NotFoundError
from harvest.search.engine import Searcher
from harvest.search.request import Filters, SearchRequest
from harvest.settings import Settings, settings_env
from tests.conftest import run_cli
from tests.demo_corpus import demo_corpus

pytestmark = pytest.mark.slow
TOKEN = "entities-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def corpus(db_settings: Settings) -> Iterator[Settings]:
    with demo_corpus(db_settings, api_token=TOKEN) as (settings, _site):
        yield settings


def surfaces(settings: Settings, cluster: int) -> set[str]:
    with get_engine(settings).connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT m.surface FROM entity_mentions m JOIN entities e ON e.id = m.entity_id "
                    "WHERE e.cluster_id = :c"
                ),
                {"c": cluster},
            ).scalars()
        )


def test_variant_and_misspelled_mentions_are_linked_to_one_entity(corpus: Settings) -> None:
    acme = find_entity(corpus, "Acme Corporation")
    assert acme.name == "Acme Corporation"
    assert {"Acme Corp", "ACME Corporation", "Acmee Corp"} <= surfaces(corpus, acme.id)
    assert acme.documents == 2
    globex = find_entity(corpus, "Globex Industries")
    assert {"Globex Industries", "Globex Corp"} <= surfaces(corpus, globex.id)
    lisbon = find_entity(corpus, "Lisbon")
    assert lisbon.id in {r["id"] for r in acme.related}  # mentioned together: a relation
    assert acme.trend and sum(t["mentions"] for t in acme.trend) == acme.mentions


def test_fuzzy_entity_search_tolerates_typos_and_order(corpus: Settings) -> None:
    assert search_entities(corpus, "Globx Industires")[0].name == "Globex Industries"
    assert search_entities(corpus, "Keller Maria")[0].name == "Maria Keller"
    assert search_entities(corpus, "zurich", entity_type="place")[0].name == "Zurich"
    with pytest.raises(InvalidInputError):
        search_entities(corpus, "   ")


def test_extraction_is_incremental(corpus: Settings) -> None:
    assert extract_mentions(corpus).chunks == 0  # nothing new, catalog unchanged


def test_forced_extraction_scans_everything_again_without_duplicates(corpus: Settings) -> None:
    from harvest.entities.service import list_candidates

    def counts() -> tuple[int, int]:
        with get_engine(corpus).connect() as conn:
            chunks = conn.execute(text("SELECT count(*) FROM chunks")).scalar_one()
            mentions = conn.execute(text("SELECT count(*) FROM entity_mentions")).scalar_one()
        return int(chunks), int(mentions)

    chunks, mentions = counts()

    def candidates() -> list[tuple[str, int, int]]:
        return [(c["name"], c["mentions"], c["documents"]) for c in list_candidates(corpus)]

    before = candidates()
    report = extract_mentions(corpus, force=True)  # e.g. after HARVEST_ENTITY_THRESHOLD changed
    assert report.chunks == chunks and report.mentions == mentions
    assert counts() == (chunks, mentions)
    assert candidates() == before  # recounted, not doubled


def test_bad_imports_name_row_and_column_and_change_nothing(corpus: Settings, tmp_path: Path) -> None:
    engine = get_engine(corpus)

    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(Entity)).scalar_one())

    before = count()
    cases = {
        "no_name.csv": ("title,city\nAcme,Paris\n", "no 'name' column"),
        "empty.csv": ("name,city\nGood One,Paris\n,Lyon\n", "row 3, column name"),
        "dupes.csv": ("id,name\n7,First\n7,Second\n", "row 3, column id: duplicate id '7'"),
        "latin1.csv": ("name\nCaf\xe9 Noir\n".encode("latin-1"), "not UTF-8"),
        "short.csv": ("name,city\nAcme\n", "row 2, column city"),
        "bad.jsonl": ('{"name": "A"}\n{"nom": "B"}\n', "row 2, column name"),
    }
    for name, (content, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(InvalidInputError, match=reason):
            import_records(engine, read_records(path), "organization")
    assert count() == before
    cli = run_cli(
        "entities", "import", str(tmp_path / "dupes.csv"), "--type", "organization", env=_env(corpus)
    )
    assert cli.returncode == 2 and "duplicate id" in cli.stderr and cli.stderr.count("\n") == 1


def _env(settings: Settings) -> dict[str, str]:
    return {k: v for k, v in settings_env(settings).items() if k.startswith("HARVEST_")}


def test_resolution_links_records_and_keeps_manual_decisions(corpus: Settings, tmp_path: Path) -> None:
    engine = get_engine(corpus)
    other = tmp_path / "partners.csv"
    other.write_text(
        "id,name,city\np1,ACME Corp,Springfield\np2,Initech Incorporated,Zurich\np3,Umbrela Health,Nairobi\n",
        encoding="utf-8",
    )
    import_records(engine, read_records(other), "organization")
    resolve_entities(corpus)
    acme = find_entity(corpus, "Acme Corporation")
    partners = {
        row.external_id: row.cluster_id
        for row in engine.connect().execute(select(Entity.external_id, Entity.cluster_id))
        if row.external_id in {"p1", "p2", "p3", "acme", "initech", "umbrella"}
    }
    assert partners["p1"] == partners["acme"] == acme.id
    assert partners["p2"] == partners["initech"]
    assert partners["p3"] == partners["umbrella"]

    ids = dict(engine.connect().execute(select(Entity.external_id, Entity.id)).all())
    link(corpus, ids["p2"], ids["initech"], "split")
    link(corpus, ids["keller"], ids["raman"], "merge")  # a person's decision, right or wrong, is kept
    resolve_entities(corpus)
    again = dict(engine.connect().execute(select(Entity.external_id, Entity.cluster_id)).all())
    assert again["p2"] != again["initech"]
    assert again["keller"] == again["raman"]
    with pytest.raises(InvalidInputError, match="itself"):
        link(corpus, ids["acme"], ids["acme"], "merge")
    with pytest.raises(InvalidInputError, match="not in one cluster"):
        link(corpus, ids["lisbon"], ids["paris"], "split")
    with pytest.raises(NotFoundError):
        link(corpus, ids["acme"], 10**12, "merge")


def test_dedupe_a_labelled_csv(tmp_path: Path, corpus: Settings) -> None:
    rng = random.Random(3)
    companies = [
        ("Brightwater Analytics", "Leeds"),
        ("Copperfield Logistics", "Denver"),
        ("Northgate Pharma", "Basel"),
        ("Silverline Robotics", "Osaka"),
        ("Redwood Capital Partners", "Austin"),
        ("Bluestone Mining", "Perth"),
        ("Greenfield Organics", "Lyon"),
        ("Ironbridge Engineering", "Glasgow"),
        ("Clearview Optics", "Jena"),
        ("Harborview Hotels", "Lisbon"),
        ("Summit Outdoor Gear", "Boulder"),
        ("Lakeside Dairy Farms", "Madison"),
    ]
    rows, truth = [], {}
    for cluster, (name, city) in enumerate(companies):
        first, *rest = name.split()
        typo_at = rng.randrange(1, len(first) - 1)
        variants = [
            name,
            f"{name} Inc.",
            first[:typo_at] + first[typo_at + 1 :] + " " + " ".join(rest),  # a typo
            " ".join(rest) + " " + first,  # swapped words
            name.upper(),
        ]
        for variant in variants:
            truth[len(rows)] = cluster
            rows.append(
                {"id": str(len(rows)), "company": variant, "city": city if rng.random() > 0.2 else ""}
            )
    path = tmp_path / "records.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "company", "city"])
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "out.csv"
    done = run_cli(
        "entities", "dedupe", str(path), "--fields", "company,city", "--out", str(out), env=_env(corpus)
    )
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8") as handle:
        predicted = {int(r["id"]): int(r["cluster_id"]) for r in csv.DictReader(handle)}
    precision, recall, f1 = pairwise_scores(predicted, truth)
    assert f1 >= 0.9, (precision, recall)
    missing = run_cli("entities", "dedupe", str(path), "--fields", "company,country", env=_env(corpus))
    assert missing.returncode == 2 and "no column 'country'" in missing.stderr


def test_search_filtered_by_entity(corpus: Settings) -> None:
    acme = find_entity(corpus, "Acme Corporation")
    found = Searcher(corpus).search(
        SearchRequest("energy", "hybrid", limit=20, filters=Filters(entities=(acme.id,)))
    )
    urls = {h.url.rsplit("/", 1)[-1] for h in found.hits}
    assert urls == {"solar-farm-lisbon", "plastic-recycling-pyrolysis"}
    with pytest.raises(NotFoundError):
        Searcher(corpus).search(SearchRequest("energy", filters=Filters(entities=(10**12,))))


def test_entities_api(corpus: Settings) -> None:
    with TestClient(create_app(corpus)) as client:
        found = client.get("/api/entities", params={"q": "Acmee Corp"}, headers=AUTH)
        assert found.status_code == 200 and found.json()["items"][0]["name"] == "Acme Corporation"
        entity_id = found.json()["items"][0]["id"]
        listed = client.get("/api/entities", params={"limit": 2}, headers=AUTH).json()  # no q: all, by name
        assert len(listed["items"]) == 2 and listed["total"] > 2 and listed["next_offset"] == 2
        names = [e["name"] for e in listed["items"]]
        assert names == sorted(names)
        one = client.get(f"/api/entities/{entity_id}", headers=AUTH).json()
        assert "ACME" in one["aliases"]
        mentions = client.get(f"/api/entities/{entity_id}/mentions", headers=AUTH).json()
        assert {"Acmee Corp", "ACME Corporation"} <= {m["surface"] for m in mentions["items"]}
        assert mentions["total"] == one["mentions"]
        assert client.get(f"/api/entities/{entity_id}/related", headers=AUTH).status_code == 200
        assert (
            client.post("/api/entities/merge", json={"first": entity_id, "second": entity_id}).status_code
            == 401
        )
        same = client.post(
            "/api/entities/merge", json={"first": entity_id, "second": entity_id}, headers=AUTH
        )
        assert same.status_code == 422 and "itself" in same.json()["error"]["message"]
        assert client.get("/api/entities/99999999", headers=AUTH).status_code == 404
        filtered = client.get("/api/search", params={"q": "plant", "entity": entity_id}, headers=AUTH)
        assert filtered.status_code == 200 and filtered.json()["items"]
        by_name = client.get("/api/search", params={"q": "plant", "entity": "Acme Corp"}, headers=AUTH)
        assert by_name.status_code == 200, by_name.text
        assert [h["url"] for h in by_name.json()["items"]] == [h["url"] for h in filtered.json()["items"]]
        unknown = client.get("/api/search", params={"q": "plant", "entity": "Zyxwv Qqq"}, headers=AUTH)
        assert unknown.status_code == 404 and "`harvest" not in unknown.json()["error"]["message"]
