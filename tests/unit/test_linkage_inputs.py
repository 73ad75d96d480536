"""Record linkage inputs without a database: field specs and YAML, column types turned into levels and
blocking rules, date layouts, CSV sniffing and the output checks."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from harvest.entities import tables
from harvest.entities.fields import (
    DATE_LAYOUTS,
    date_layout_sql,
    derived_columns,
    guess_type,
    load_config,
    make_fields,
    parse_fields,
    pick_date_layout,
)
from harvest.entities.levels import DUCKDB, candidate_rules, comparison, partners
from harvest.errors import InvalidInputError

README_FIELDS = (
    "given_name:person_name,surname:person_name,date_of_birth:date,postcode:postcode,address_1:address,"
    "soc_sec_id:id"
)


def test_field_specs_types_and_guesses() -> None:
    assert parse_fields(README_FIELDS)[0] == ("given_name", "person_name")
    assert parse_fields("company, city") == [("company", None), ("city", None)]
    with pytest.raises(InvalidInputError, match="unknown type 'dob'"):
        parse_fields("date_of_birth:dob")
    with pytest.raises(InvalidInputError, match="listed twice"):
        parse_fields("a:id,a:text")
    assert [
        guess_type(c) for c in ("Date of Birth", "zip", "E-mail", "surname", "soc_sec_id", "company")
    ] == [
        "date",
        "postcode",
        "email",
        "person_name",
        "id",
        "name",
    ]


def test_yaml_config(tmp_path: Path) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(
        "id: rec_id\nthreshold: 0.9\nfields:\n  given_name: person_name\n  date_of_birth: date\n"
        "blocking: [[postcode, surname], date_of_birth]\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.fields == [("given_name", "person_name"), ("date_of_birth", "date")]
    assert (config.id_column, config.threshold) == ("rec_id", 0.9)
    assert config.blocking == [["postcode", "surname"], ["date_of_birth"]]
    path.write_text("fields: {a: id}\nblock: []\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="unknown key 'block'"):
        load_config(path)


def test_types_become_levels_and_blocking_rules() -> None:
    fields = make_fields(parse_fields(README_FIELDS))
    pairs = partners(fields)
    given = comparison(fields[0], DUCKDB, pairs.get(fields[0].name))
    labels = [level["label_for_charts"] for level in given["comparison_levels"]]
    assert labels[:3] == ["null", "exact", "Jaro-Winkler >= 0.92"]
    assert "swapped with surname" in labels and "same phonetic code" in labels
    starting = [lv["m_probability"] for lv in given["comparison_levels"] if not lv.get("is_null_level")]
    assert abs(sum(starting) - 1) < 1e-9 and starting == sorted(starting[:-1], reverse=True) + starting[-1:]
    dates = [lv["label_for_charts"] for lv in comparison(fields[2], DUCKDB)["comparison_levels"]]
    assert "day and month transposed" in dates
    rules = {rule.label for rule in candidate_rules(fields)}
    assert {
        "soc_sec_id",
        "date_of_birth",
        "given_name~ + surname~ swapped",
        "postcode + given_name[1]",
    } <= rules


@pytest.mark.parametrize(
    ("values", "layout", "canonical"),
    [
        (["1970-03-25", "1981-12-01"], "YYYY-MM-DD", "19700325"),
        (["19700325", "19811201"], "YYYYMMDD", "19700325"),
        (["25/03/1970", "01/12/1981"], "DD/MM/YYYY", "19700325"),
        (["03/25/1970", "12/01/1981"], "MM/DD/YYYY", "19700325"),
    ],
)
def test_date_layouts_are_detected_and_read(values: list[str], layout: str, canonical: str) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (d VARCHAR)").fetchall()
    con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values])
    chosen = pick_date_layout(tuple(con.execute(f"SELECT {date_layout_sql('d')} FROM t").fetchall()[0]))
    assert chosen.label == layout
    field = make_fields([("d", "date")])[0]
    expr = derived_columns(field, "d", chosen)["d"]
    assert con.execute(f"SELECT {expr} FROM t").fetchall()[0][0] == canonical
    # an impossible date (day and month transposed) keeps its digits in place, comparable
    assert (
        con.execute(f"SELECT {DATE_LAYOUTS[1].canonical_sql(repr('19702503'))}").fetchall()[0][0]
        == "19702503"
    )


def test_csv_sniffing_and_bad_files(tmp_path: Path) -> None:
    semi = tmp_path / "semi.csv"
    semi.write_text("id;name;city\n1;Ann;Oslo\n", encoding="utf-8")
    assert tables.sniff(semi) == (";", ["id", "name", "city"])
    tabbed = tmp_path / "tab.tsv"
    tabbed.write_text("id\tname\n1\tAnn\n", encoding="utf-8")
    assert tables.sniff(tabbed)[0] == "\t"
    empty = tmp_path / "empty.csv"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="is empty"):
        tables.sniff(empty)
    with pytest.raises(InvalidInputError, match="does not exist"):
        tables.sniff(tmp_path / "missing.csv")
    con = duckdb.connect()
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,name\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="header but no rows"):
        tables.load(con, header_only, "h")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("id,name\n1,Ann\n2,Bo,extra\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="cannot read it as CSV"):
        tables.load(con, ragged, "r")
    dupes = tmp_path / "dupes.csv"
    dupes.write_text("id,name\n1,Ann\n1,Bo\n", encoding="utf-8")
    table = tables.load(con, dupes, "d")
    with pytest.raises(InvalidInputError, match="id '1' is on 2 rows"):
        tables.check_id(con, table, "id")


def test_outputs_never_overwrite_inputs_or_results_without_force(tmp_path: Path) -> None:
    data, out = tmp_path / "people.csv", tmp_path / "out.csv"
    data.write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="is an input file"):
        tables.check_outputs([data], [data], force=True)
    out.write_text("x", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="pass --force"):
        tables.check_outputs([data], [out], force=False)
    tables.check_outputs([data], [out], force=True)
