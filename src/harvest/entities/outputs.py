"""What a linkage run writes: the rows with their cluster, every scored candidate pair with each
column's level and weight, the model (Splink's JSON plus Harvest's field types and a readable m/u
table), and a match-weight histogram."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harvest.entities.fields import Field

if TYPE_CHECKING:
    from harvest.entities.engine import Engine
    from harvest.entities.linkage import LinkReport, LinkSpec
    from harvest.entities.tables import Table

MODEL_FORMAT = 1


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _copy_options(path: Path, delimiter: str = ",") -> str:
    if path.suffix.lower() == ".parquet":
        return "(FORMAT parquet)"
    return f"(FORMAT csv, HEADER true, DELIMITER {_literal(delimiter)})"


def _numbering(clustered: str, source: str) -> str:
    """Cluster numbers from 1 in order of each cluster's first row (first table first), so the output
    reads naturally."""
    return (
        "SELECT cluster_id, row_number() OVER (ORDER BY first_row) AS cluster_no FROM (SELECT cluster_id, "
        f"min(({source}) * 1000000000000 + __row) AS first_row FROM {clustered} GROUP BY cluster_id)"
    )


def write_clusters(
    engine: Engine, clustered: str, loaded: list[Table], fields: list[Field], spec: LinkSpec, mode: str
) -> None:
    assert spec.out is not None
    con = engine.duckdb()
    target = _literal(str(spec.out))
    if mode == "dedupe":
        (table,) = loaded
        numbering = _numbering(clustered, "0")
        con.execute(
            f"COPY (SELECT t.* EXCLUDE (__row), n.cluster_no AS cluster_id FROM {table.name} t "
            f"JOIN {clustered} c ON c.__row = t.__row JOIN ({numbering}) n ON n.cluster_id = c.cluster_id "
            f"ORDER BY t.__row) TO {target} {_copy_options(spec.out, table.delimiter)}"
        ).fetchall()
        return
    numbering = _numbering(clustered, "CASE source_dataset WHEN 'a' THEN 0 ELSE 1 END")
    keep = ", ".join('t."' + f.column.replace('"', '""') + '"' for f in fields)
    parts = []
    for index, table in enumerate(loaded):
        parts.append(
            f"SELECT n.cluster_no AS cluster_id, {_literal(table.path.name)} AS source, c.unique_id AS "
            f"{'id' if spec.id_column else 'row'}, {keep}, {index} AS __source, t.__row FROM {table.name} t "
            f"JOIN {clustered} c ON c.__row = t.__row AND c.source_dataset = '{'ab'[index]}' "
            f"JOIN ({numbering}) n ON n.cluster_id = c.cluster_id"
        )
    con.execute(
        f"COPY (SELECT * EXCLUDE (__source, __row) FROM ({' UNION ALL '.join(parts)}) "
        f"ORDER BY cluster_id, __source, __row) TO {target} {_copy_options(spec.out)}"
    ).fetchall()


def level_labels(linker: Any) -> dict[str, dict[int, str]]:
    """Comparison → gamma value → the level's label."""
    return {
        c.output_column_name: {lv.comparison_vector_value: lv.label_for_charts for lv in c.comparison_levels}
        for c in linker._settings_obj.comparisons
    }


def write_pairs(engine: Engine, linker: Any, predictions: str, fields: list[Field], spec: LinkSpec) -> None:
    """One row per candidate pair: ids, probability, total weight, and per field the two compared
    (normalised) values, the level they reached and its weight (term-frequency adjustment included)."""
    assert spec.pairs_out is not None
    con = engine.duckdb()
    columns = {row[0] for row in con.execute(f"DESCRIBE {predictions}").fetchall()}
    id_name = "id" if spec.id_column else "row"
    select = []
    if "source_dataset_l" in columns:
        select += ["source_dataset_l AS table_l", "source_dataset_r AS table_r"]
    select += [
        f"unique_id_l AS {id_name}_l",
        f"unique_id_r AS {id_name}_r",
        "round(match_probability, 6) AS match_probability",
        "round(match_weight, 4) AS match_weight",
    ]
    labels = level_labels(linker)
    for f in fields:
        cases = " ".join(f"WHEN {value} THEN {_literal(label)}" for value, label in labels[f.name].items())
        weight = f'"mw_{f.name}"' + (
            f' + coalesce("mw_tf_adj_{f.name}", 0)' if f"mw_tf_adj_{f.name}" in columns else ""
        )
        select += [
            f'"{f.name}_l"',
            f'"{f.name}_r"',
            f'CASE "gamma_{f.name}" {cases} END AS "{f.name}_level"',
            f'round({weight}, 4) AS "{f.name}_weight"',
        ]
    con.execute(
        f"COPY (SELECT {', '.join(select)} FROM {predictions} ORDER BY match_weight DESC) "
        f"TO {_literal(str(spec.pairs_out))} {_copy_options(spec.pairs_out)}"
    ).fetchall()


def parameters(linker: Any) -> list[dict[str, Any]]:
    """The trained m and u of every level, with the weight each gives (log2 m/u)."""
    out = []
    for c in linker._settings_obj.comparisons:
        for level in c.comparison_levels:
            if level.is_null_level:
                continue
            m, u = level.m_probability, level.u_probability
            weight = math.log2(m / u) if m and u else None
            out.append(
                {
                    "column": c.output_column_name,
                    "level": level.label_for_charts,
                    "m": None if m is None else round(float(m), 6),
                    "u": None if u is None else round(float(u), 8),
                    "match_weight": None if weight is None else round(weight, 3),
                    "trained_m": bool(level._has_estimated_m_values),
                }
            )
    return out


def write_model(linker: Any, fields: list[Field], spec: LinkSpec, mode: str, report: LinkReport) -> None:
    assert spec.model_out is not None
    model = {
        "harvest": {
            "format": MODEL_FORMAT,
            "mode": mode,
            "inputs": [str(p.resolve()) for p in spec.inputs],
            "fields": [{"column": f.column, "type": f.kind} for f in fields],
            "id": spec.id_column,
            "threshold": spec.threshold,
            "probability_two_random_records_match": report.probability_two_random_records_match,
            "parameters": parameters(linker),
            "training": report.training,
        },
        "splink": linker.misc.save_model_to_json(),
    }
    spec.model_out.write_text(json.dumps(model, indent=2, default=str), encoding="utf-8")


def read_model(path: Path) -> dict[str, Any]:
    from harvest.errors import InvalidInputError

    try:
        model = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidInputError(f"{path} does not exist") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{path} is not a model written by Harvest (not JSON)") from error
    if not isinstance(model, dict) or not isinstance(model.get("harvest"), dict) or "splink" not in model:
        raise InvalidInputError(
            f"{path} is not a model written by Harvest (no 'harvest' and 'splink' sections)"
        )
    return model


def write_histogram(engine: Engine, predictions: str, path: Path, threshold: float) -> None:
    """Candidate pairs by match weight (log scale): matches and non-matches should form two humps;
    the threshold is drawn where the chosen probability falls."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = engine.rows(
        f"SELECT floor(match_weight / 2) * 2 AS w, count(*) FROM {predictions} GROUP BY 1 ORDER BY 1"
    )
    figure, axes = plt.subplots(figsize=(8, 3.5), dpi=110)
    if bins:
        axes.bar([float(w) + 1 for w, _ in bins], [int(n) for _, n in bins], width=1.8, color="#4c78a8")
    axes.set_yscale("log")
    cut = math.log2(threshold / (1 - threshold))
    axes.axvline(
        cut, color="#e45756", linestyle="--", label=f"threshold p = {threshold:g} (weight {cut:.1f})"
    )
    axes.set_xlabel("match weight (log2 Bayes factor)")
    axes.set_ylabel("candidate pairs")
    axes.set_title("Match weights of all candidate pairs")
    axes.legend(loc="upper center")
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
