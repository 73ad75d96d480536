"""`harvest entities dedupe / link / explain / model` as a user runs them, on generated people records
(the bench's generator, built-in name lists): the README's command reaches the quality it promises,
every output is written and readable, and bad input gets one line."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from harvest.entities.dedupe import build_config, link_files
from harvest.entities.linkage import LinkReport
from harvest.errors import InvalidInputError
from harvest.settings import Settings
from tests.conftest import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from _people import Generator, People, pair_scores, write

pytestmark = pytest.mark.slow
FIELDS = (
    "given_name:person_name,surname:person_name,date_of_birth:date,postcode:postcode,address_1:address,"
    "soc_sec_id:id"
)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, People, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("people")
    data = Generator(seed=11).people(1500)
    path = folder / "people.csv"
    write(data, path)
    yield path, data, {"HARVEST_DATA_DIR": str(folder / "data")}


@pytest.fixture(scope="module")
def deduped(people: tuple[Path, People, dict[str, str]]) -> tuple[Path, dict[str, object]]:
    path, _, env = people
    out = path.with_name("clusters.csv")
    done = run_cli(
        "entities",
        "dedupe",
        str(path),
        "--fields",
        FIELDS,
        "--id",
        "rec_id",
        "--out",
        str(out),
        "--pairs-out",
        str(path.with_name("pairs.csv")),
        "--json",
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout)


def test_dedupe_reaches_the_promised_quality_and_writes_every_output(
    people: tuple[Path, People, dict[str, str]], deduped: tuple[Path, dict[str, object]]
) -> None:
    path, data, _ = people
    out, report = deduped
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["rec_id"] for r in rows] == [r["rec_id"] for r in data.rows]  # input order kept
    precision, recall, f1 = pair_scores([r["cluster_id"] for r in rows], data.truth)
    assert f1 >= 0.98, (precision, recall)
    assert report["clusters"] == len({r["cluster_id"] for r in rows})
    assert {b["rule"] for b in report["blocking"]} >= {"soc_sec_id", "date_of_birth"}  # type: ignore[union-attr]
    assert report["date_formats"] == {"people.csv:date_of_birth": "YYYYMMDD"}
    pairs = duckdb.sql(f"SELECT * FROM read_csv('{path.with_name('pairs.csv')}')")
    assert {"id_l", "id_r", "match_probability", "surname_level", "surname_weight"} <= set(pairs.columns)
    assert pairs.count("*").fetchall()[0][0] == report["candidate_pairs"]
    model = json.loads(out.with_name("clusters.model.json").read_text(encoding="utf-8"))
    assert {p["level"] for p in model["harvest"]["parameters"] if p["column"] == "date_of_birth"} >= {
        "exact",
        "day and month transposed",
    }
    assert out.with_name("clusters.weights.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explain_and_model(
    people: tuple[Path, People, dict[str, str]], deduped: tuple[Path, dict[str, object]]
) -> None:
    _, data, env = people
    out, _ = deduped
    person = data.truth[0]
    first, second = [r["rec_id"] for r, t in zip(data.rows, data.truth, strict=True) if t == person][:2] or [
        data.rows[0]["rec_id"],
        data.rows[1]["rec_id"],
    ]
    model = out.with_name("clusters.model.json")
    shown = run_cli("entities", "explain", str(model), first, second, "--json", env=env, timeout=180)
    assert shown.returncode == 0, shown.stderr
    waterfall = json.loads(shown.stdout)
    assert [s["column"] for s in waterfall["steps"]] == [
        "given_name",
        "surname",
        "date_of_birth",
        "postcode",
        "address_1",
        "soc_sec_id",
    ]
    total = waterfall["prior_weight"] + sum(s["weight"] for s in waterfall["steps"])
    assert abs(total - waterfall["match_weight"]) < 0.01
    missing = run_cli("entities", "explain", str(model), first, "rec-none", env=env, timeout=180)
    assert missing.returncode != 0 and "no record with id 'rec-none'" in missing.stderr
    assert missing.stderr.strip().count("\n") == 0
    params = run_cli("entities", "model", str(model), env=env)
    assert params.returncode == 0 and "day and month transposed" in params.stdout


def test_link_two_files_with_other_delimiter_and_date_layout(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    a, b = Generator(seed=12).two_tables(700)
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write(a, first)
    for row in b.rows:  # the second file writes dates day first, with slashes
        d = row["date_of_birth"]
        row["date_of_birth"] = f"{d[6:8]}/{d[4:6]}/{d[:4]}" if len(d) == 8 else d
    write(b, second, delimiter=";")
    config = tmp_path / "people.yaml"
    config.write_text(
        "id: rec_id\nfields:\n"
        + "".join(f"  {c}: {t}\n" for c, t in (p.split(":") for p in FIELDS.split(","))),
        encoding="utf-8",
    )
    report: LinkReport = link_files(
        settings,
        [first, second],
        build_config(None, config, None, []),
        out=tmp_path / "links.csv",
        pairs_out=None,
        model_out=None,
        chart_out=None,
        model_in=None,
        threshold=None,
        force=False,
        on_progress=lambda *_: None,
    )
    assert report.date_formats == {"a.csv:date_of_birth": "YYYYMMDD", "b.csv:date_of_birth": "DD/MM/YYYY"}
    truth = {("a.csv", r["rec_id"]): t for r, t in zip(a.rows, a.truth, strict=True)}
    truth |= {("b.csv", r["rec_id"]): t for r, t in zip(b.rows, b.truth, strict=True)}
    groups: dict[str, list[tuple[str, str]]] = {}
    with (tmp_path / "links.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            groups.setdefault(row["cluster_id"], []).append((row["source"], row["id"]))
    found = {(x, y) for g in groups.values() for x in g for y in g if x[0] == "a.csv" and y[0] == "b.csv"}
    expected = {
        (x, y) for x in truth for y in truth if x[0] == "a.csv" and y[0] == "b.csv" and truth[x] == truth[y]
    }
    precision = len(found & expected) / len(found)
    recall = len(found & expected) / len(expected)
    assert precision >= 0.98 and recall >= 0.98, (precision, recall)
    with pytest.raises(InvalidInputError, match="pass --force"):
        link_files(
            settings,
            [first, second],
            build_config(FIELDS, None, "rec_id", []),
            out=tmp_path / "links.csv",
            pairs_out=None,
            model_out=None,
            chart_out=None,
            model_in=None,
            threshold=None,
            force=False,
            on_progress=lambda *_: None,
        )


def test_bad_inputs_get_one_line(tmp_path: Path, people: tuple[Path, People, dict[str, str]]) -> None:
    path, _, env = people
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    done = run_cli("entities", "dedupe", str(empty), "--fields", FIELDS, env=env)
    assert done.returncode == 2 and "is empty" in done.stderr and done.stderr.strip().count("\n") == 0
    same = run_cli("entities", "dedupe", str(path), "--fields", FIELDS, "--out", str(path), env=env)
    assert same.returncode == 2 and "is an input file" in same.stderr
    assert path.read_bytes().startswith(b"rec_id,given_name")  # nothing overwritten
    with pytest.raises(InvalidInputError, match="unknown type 'nickname'"):
        build_config("given_name:nickname", None, None, [])
    with pytest.raises(InvalidInputError, match="no column 'country'"):
        link_files(
            Settings(data_dir=tmp_path / "data"),
            [path],
            build_config("given_name,country:text", None, None, []),
            out=tmp_path / "x.csv",
            pairs_out=None,
            model_out=None,
            chart_out=None,
            model_in=None,
            threshold=None,
            force=False,
            on_progress=lambda *_: None,
        )
