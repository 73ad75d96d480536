"""Probabilistic record linkage of tables on Splink (Fellegi-Sunter): `harvest entities dedupe` and
`harvest entities link`.

The flow: read the file(s) into DuckDB → derive normalised columns per type → measure and choose
blocking rules → train without labels (u by random sampling, the prior from near-certain rules, m by
expectation maximisation in sessions that together leave every column free once) → score every
candidate pair → clusters at a match probability → outputs (clusters, scored pairs with per-column
contributions, the model with its m/u parameters, a match-weight histogram). DuckDB runs embedded on
all cores; a configured Spark session takes the pairwise work instead (see `engine.py`)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harvest.entities import blocking, tables
from harvest.entities.engine import Engine
from harvest.entities.fields import (
    Field,
    as_dict,
    date_layout_sql,
    derived_columns,
    make_fields,
    pick_date_layout,
)
from harvest.entities.levels import (
    DUCKDB,
    Rule,
    candidate_rules,
    comparison,
    partners,
    refinements,
    user_rule,
)
from harvest.errors import InvalidInputError

logger = logging.getLogger(__name__)

Progress = Callable[[str, int | None, int | None], None]
U_MAX_PAIRS = 2_000_000
EM_MAX_PAIRS = 2_000_000
PREDICT_CHUNK_ROWS = 150_000  # rows per chunk of the left side: progress, and bounded memory


@dataclass
class LinkSpec:
    inputs: list[Path]  # one file: dedupe; two: link
    fields: list[tuple[str, str | None]]
    threshold: float
    id_column: str | None = None
    blocking: list[list[str]] | None = None
    out: Path | None = None
    pairs_out: Path | None = None
    model_out: Path | None = None
    chart_out: Path | None = None
    model_in: Path | None = None
    seed: int = 42
    pairs_per_row: int = 25
    force: bool = False


@dataclass
class LinkReport:
    mode: str
    rows: list[int]
    fields: list[dict[str, Any]]
    threshold: float
    candidate_pairs: int = 0
    matching_pairs: int = 0
    clusters: int = 0
    cluster_sizes: dict[str, int] = field(default_factory=dict)
    largest_cluster: int = 0
    blocking: list[dict[str, Any]] = field(default_factory=list)
    dropped_rules: list[dict[str, Any]] = field(default_factory=list)
    large_blocks: list[dict[str, Any]] = field(default_factory=list)
    training: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    probability_two_random_records_match: float = 0.0
    date_formats: dict[str, str] = field(default_factory=dict)


def _quiet(_stage: str, _done: int | None, _total: int | None) -> None:
    return None


class _Stages:
    def __init__(self, report: LinkReport, on_progress: Progress) -> None:
        self.report, self.on_progress = report, on_progress
        self.current: str | None = None
        self.started = time.perf_counter()

    def start(self, stage: str, total: int | None = None) -> None:
        self.finish()
        self.current, self.started = stage, time.perf_counter()
        self.on_progress(stage, 0 if total else None, total)

    def finish(self) -> None:
        if self.current is not None:
            self.report.seconds[self.current] = round(time.perf_counter() - self.started, 2)
            self.current = None


class _SplinkWarnings(logging.Handler):
    """Splink's warnings (e.g. a level never seen in training) go into the report, not to stderr."""

    def __init__(self, report: LinkReport) -> None:
        super().__init__(logging.WARNING)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        message = " ".join(record.getMessage().split()).removeprefix("WARNING:").strip()
        if message and message not in self.report.warnings:
            self.report.warnings.append(message)


def run(spec: LinkSpec, engine: Engine, on_progress: Progress = _quiet) -> LinkReport:
    """Deduplicate one table or link two; see the module's docstring."""
    splink_logger = logging.getLogger("splink")
    report = LinkReport("dedupe" if len(spec.inputs) == 1 else "link", [], [], spec.threshold)
    handler = _SplinkWarnings(report)
    splink_logger.addHandler(handler)
    propagate, splink_logger.propagate = splink_logger.propagate, False
    try:
        return _run(spec, engine, on_progress, report)
    finally:
        splink_logger.removeHandler(handler)
        splink_logger.propagate = propagate


def _run(spec: LinkSpec, engine: Engine, on_progress: Progress, report: LinkReport) -> LinkReport:
    if len(spec.inputs) not in (1, 2):
        raise InvalidInputError("give one file to deduplicate or two to link")
    if not 0.0 < spec.threshold < 1.0:
        raise InvalidInputError(f"--threshold {spec.threshold}: a match probability between 0 and 1")
    tables.check_outputs(spec.inputs, [spec.out, spec.pairs_out, spec.model_out, spec.chart_out], spec.force)
    fields = make_fields(spec.fields)
    mode = report.mode
    report.fields = as_dict(fields)
    stages = _Stages(report, on_progress)
    con = engine.duckdb()

    stages.start("read")
    loaded = [tables.load(con, path, f"input_{i}") for i, path in enumerate(spec.inputs)]
    for table in loaded:
        tables.check_columns(table, [f.column for f in fields])
        if spec.id_column:
            tables.check_id(con, table, spec.id_column)
        if mode == "dedupe" and "cluster_id" in table.columns:
            raise InvalidInputError(f"{table.path} already has a 'cluster_id' column: rename it first")
    report.rows = [t.rows for t in loaded]

    stages.start("prepare")
    prepared = [
        prepare(con, t, fields, spec.id_column, i if mode == "link" else None, report.date_formats)
        for i, t in enumerate(loaded)
    ]

    stages.start("blocking")
    pair_partners = partners(fields)
    if spec.blocking:
        try:
            rules = [user_rule(columns, fields) for columns in spec.blocking]
        except KeyError as error:
            raise InvalidInputError(
                f"blocking rule names {error.args[0]!r}, which is not one of the fields"
            ) from error
    else:
        rules = candidate_rules(fields)
    total_rows = sum(report.rows)
    budget = max(1_000_000, spec.pairs_per_row * total_rows)
    chosen = blocking.plan(con, rules, refinements(fields), prepared, budget, user_given=bool(spec.blocking))
    if not chosen.kept:
        raise InvalidInputError(
            "no blocking rule is selective enough: add an identifying column (id, date, name) or a "
            "`blocking:` rule"
        )
    report.blocking = [p.as_dict() for p in chosen.kept]
    report.dropped_rules = [p.as_dict() for p in chosen.dropped]
    report.large_blocks = [p.as_dict() for p in chosen.large_blocks()]
    for dropped in chosen.dropped:
        report.warnings.append(f"blocking rule {dropped.rule.label} dropped: {dropped.note}")
    for big in chosen.large_blocks():
        report.warnings.append(
            f"large block: {big.rule.label} = {big.largest_key!r} has {big.largest_rows:,} rows "
            "(every pair in it is compared)"
        )

    linker = engine.linker(
        prepared,
        _settings(fields, pair_partners, [p.rule for p in chosen.kept], mode, engine.dialect),
        spec.model_in,
    )
    if spec.model_in is None:
        _train(linker, fields, rules, chosen, mode, total_rows, spec.seed, stages, report)
    report.probability_two_random_records_match = float(
        linker._settings_obj._probability_two_random_records_match
    )

    chunks = max(1, math.ceil(report.rows[0] / PREDICT_CHUNK_ROWS))
    stages.start("score pairs", chunks)
    predictions = engine.predict(linker, chunks, lambda done: on_progress("score pairs", done, chunks))
    report.candidate_pairs = engine.count(predictions)

    stages.start("cluster")
    clustered = engine.cluster(linker, predictions, spec.threshold)
    report.matching_pairs = engine.count_where(predictions, f"match_probability >= {spec.threshold}")
    _summarise_clusters(engine, clustered, report)

    stages.start("write")
    from harvest.entities import outputs

    if spec.out is not None:
        outputs.write_clusters(engine, clustered, loaded, fields, spec, mode)
        report.outputs["clusters"] = str(spec.out)
    if spec.pairs_out is not None:
        outputs.write_pairs(engine, linker, predictions, fields, spec)
        report.outputs["pairs"] = str(spec.pairs_out)
    if spec.model_out is not None:
        outputs.write_model(linker, fields, spec, mode, report)
        report.outputs["model"] = str(spec.model_out)
    if spec.chart_out is not None:
        outputs.write_histogram(engine, predictions, spec.chart_out, spec.threshold)
        report.outputs["chart"] = str(spec.chart_out)
    stages.finish()
    return report


def prepare(
    con: Any,
    table: tables.Table,
    fields: list[Field],
    id_column: str | None,
    source: int | None,
    formats: dict[str, str] | None = None,
) -> str:
    """A table of derived columns: unique_id (the id column, else the 1-based row), __row, one
    normalised column per field and its helpers."""
    columns: dict[str, str] = {}
    formats = {} if formats is None else formats
    for f in fields:
        raw = '"' + f.column.replace('"', '""') + '"'
        layout = None
        if f.kind == "date":
            counts = con.execute(f"SELECT {date_layout_sql(raw)} FROM {table.name}").fetchall()[0]
            layout = pick_date_layout(tuple(int(c) for c in counts))
            logger.info(
                "date layout", extra={"table": str(table.path), "column": f.column, "layout": layout.label}
            )
        columns.update(derived_columns(f, raw, layout))
    uid = 'trim("' + id_column.replace('"', '""') + '")' if id_column else "CAST(__row + 1 AS VARCHAR)"
    select = [f"{uid} AS unique_id", "__row"]
    if source is not None:
        select.append(f"'{'ab'[source]}' AS source_dataset")
    select += [f'{expr} AS "{name}"' for name, expr in columns.items()]
    name = f"prep_{table.name}"
    con.execute(f"CREATE TABLE {name} AS SELECT {', '.join(select)} FROM {table.name}").fetchall()
    return name


def _settings(
    fields: list[Field], pair_partners: dict[str, Field], rules: list[Rule], mode: str, dialect: str
) -> dict[str, Any]:
    from harvest.entities.levels import SPARK

    d = SPARK if dialect == "spark" else DUCKDB
    settings: dict[str, Any] = {
        "link_type": "dedupe_only" if mode == "dedupe" else "link_only",
        "unique_id_column_name": "unique_id",
        "comparisons": [comparison(f, d, pair_partners.get(f.name)) for f in fields],
        "blocking_rules_to_generate_predictions": [rule.sql() for rule in rules],
        "retain_matching_columns": True,
        "retain_intermediate_calculation_columns": True,
        "additional_columns_to_retain": ["__row"],
        "probability_two_random_records_match": 1e-4,
        "max_iterations": 25,
    }
    if mode == "link":
        settings["source_dataset_column_name"] = "source_dataset"
    return settings


def _deactivated(rule: Rule, fields: list[Field], pair_partners: dict[str, Field]) -> set[str]:
    """Comparisons a training session blocked on `rule` cannot estimate (they use its columns)."""
    used = rule.columns()
    out = set()
    for f in fields:
        own = {f.name, f.col("ph"), f.col("key"), f.col("area"), f.col("user"), f.col("d"), f.col("i1")}
        partner = pair_partners.get(f.name)
        if partner is not None:
            own.add(partner.name)
        if own & used:
            out.add(f.name)
    return out


def _train(
    linker: Any,
    fields: list[Field],
    rules: list[Rule],
    chosen: blocking.BlockingPlan,
    mode: str,
    rows: int,
    seed: int,
    stages: _Stages,
    report: LinkReport,
) -> None:
    pair_partners = partners(fields)
    stages.start("train u (random pairs)")
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=None)
    report.training.append(f"u from up to {U_MAX_PAIRS:,} random pairs")

    # Sessions: greedily, the kept rule that frees the most not-yet-estimated comparisons (ties: a
    # plain rule before a swapped one, then the one with more pairs to learn from), until each
    # comparison has been free in one session.
    pending = {f.name for f in fields}
    sessions: list[blocking.RulePlan] = []
    options = [p for p in chosen.kept if p.pairs > 0]
    while pending and options:
        best = max(
            options,
            key=lambda p: (
                len(pending - _deactivated(p.rule, fields, pair_partners)),
                p.rule.symmetric,
                min(p.pairs, EM_MAX_PAIRS),
            ),
        )
        freed = pending - _deactivated(best.rule, fields, pair_partners)
        if not freed:
            break
        sessions.append(best)
        options.remove(best)
        pending -= freed
    if pending:
        report.warnings.append(
            "m not estimated for " + ", ".join(sorted(pending)) + " (every blocking rule uses it): "
            "Splink's starting values are used; add a blocking rule on other columns"
        )
    stages.start("train m (EM)", len(sessions))
    for done, session in enumerate(sessions, start=1):
        linker.training.estimate_parameters_using_expectation_maximisation(
            session.rule.sql(),
            max_pairs=EM_MAX_PAIRS if session.pairs > EM_MAX_PAIRS else None,
            populate_probability_two_random_records_match_from_trained_values=done == len(sessions),
        )
        report.training.append(
            f"m by EM on pairs blocked by {session.rule.label} ({min(session.pairs, EM_MAX_PAIRS):,} pairs)"
        )
        stages.on_progress("train m (EM)", done, len(sessions))


def _summarise_clusters(engine: Engine, clustered: str, report: LinkReport) -> None:
    sizes = engine.rows(
        f"SELECT n, count(*) FROM (SELECT cluster_id, count(*) AS n FROM {clustered} "
        "GROUP BY cluster_id) GROUP BY n ORDER BY n"
    )
    buckets: dict[str, int] = {}
    for size, count in sizes:
        label = str(size) if size <= 5 else "6-10" if size <= 10 else "11-50" if size <= 50 else "over 50"
        buckets[label] = buckets.get(label, 0) + int(count)
    report.cluster_sizes = buckets
    report.clusters = sum(int(c) for _, c in sizes)
    report.largest_cluster = max((int(s) for s, _ in sizes), default=0)
