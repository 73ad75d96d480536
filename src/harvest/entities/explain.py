"""`harvest entities explain`: why a saved model scores two records as it does — a waterfall from the
prior (how likely two random records are the same) through each column's level and weight to the
final match weight and probability."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harvest.entities import tables
from harvest.entities.engine import Engine
from harvest.entities.fields import make_fields
from harvest.entities.linkage import prepare
from harvest.entities.outputs import level_labels, read_model
from harvest.errors import InvalidInputError, NotFoundError


@dataclass
class Step:
    column: str
    left: Any
    right: Any
    level: str
    weight: float
    total: float


@dataclass
class Explanation:
    first: str
    second: str
    prior_weight: float
    steps: list[Step] = field(default_factory=list)
    match_weight: float = 0.0
    match_probability: float = 0.0
    threshold: float | None = None


def explain(
    model_path: Path, first: str, second: str, engine: Engine, data: list[Path] | None = None
) -> Explanation:
    model = read_model(model_path)
    harvest = model["harvest"]
    inputs = data or [Path(p) for p in harvest.get("inputs", [])]
    wanted = 1 if harvest.get("mode") == "dedupe" else 2
    if len(inputs) != wanted:
        raise InvalidInputError(
            f"{model_path} was trained to {harvest.get('mode')} {wanted} file(s); give {wanted} with --data"
        )
    fields = make_fields([(f["column"], f["type"]) for f in harvest["fields"]])
    id_column = harvest.get("id")
    con = engine.duckdb()
    loaded = [tables.load(con, path, f"input_{i}") for i, path in enumerate(inputs)]
    prepared = []
    for i, table in enumerate(loaded):
        tables.check_columns(table, [f.column for f in fields])
        prepared.append(prepare(con, table, fields, id_column, i if wanted == 2 else None))
    what = "id" if id_column else "row"
    records = []
    for value, table, prep in ((first, loaded[0], prepared[0]), (second, loaded[-1], prepared[-1])):
        cursor = con.execute(f"SELECT * FROM {prep} WHERE unique_id = ?", [value.strip()])
        names = [d[0] for d in cursor.description]
        found = cursor.fetchall()
        if not found:
            raise NotFoundError(f"{table.path}: no record with {what} {value!r}")
        records.append(dict(zip(names, found[0], strict=True)))
    linker = engine.linker(prepared, model["splink"], None)
    scored = linker.inference.score_pair(records[0], records[1]).as_record_list()[0]
    prior = float(linker._settings_obj._probability_two_random_records_match)
    result = Explanation(first, second, math.log2(prior / (1 - prior)), threshold=harvest.get("threshold"))
    total = result.prior_weight
    labels = level_labels(linker)
    for f in fields:
        weight = float(scored.get(f"mw_{f.name}") or 0.0) + float(scored.get(f"mw_tf_adj_{f.name}") or 0.0)
        total += weight
        result.steps.append(
            Step(
                f.column,
                scored.get(f"{f.name}_l"),
                scored.get(f"{f.name}_r"),
                labels[f.name].get(int(scored[f"gamma_{f.name}"]), "?"),
                round(weight, 3),
                round(total, 3),
            )
        )
    result.match_weight = round(float(scored["match_weight"]), 3)
    result.match_probability = float(scored["match_probability"])
    return result
