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
import re
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
EM_MAX_PAIRS = 1_000_000
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
    pairs_per_row: int = 10
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
    report.fields = as_dict(fields, spec.fields)
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

    settings = _settings(fields, pair_partners, [p.rule for p in chosen.kept], mode, engine.dialect)
    linker = engine.linker(
        prepared,
        settings,
        spec.model_in,
    )
    if spec.model_in is None:
        _train(linker, settings, fields, chosen, prepared, spec.seed, stages, report)
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
            logger.debug(
                "date layout", extra={"table": str(table.path), "column": f.column, "layout": layout.label}
            )
            formats[f"{table.path.name}:{f.column}"] = layout.label
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


def _deactivated(rule: Rule, comparisons: list[dict[str, Any]]) -> set[str]:
    """Comparisons a training session blocked on `rule` cannot estimate: as Splink decides, those
    whose levels read a column the rule uses."""
    used = rule.columns()
    out = set()
    for c in comparisons:
        read = {
            m.group(1)
            for level in c["comparison_levels"]
            for m in re.finditer(r'"([^"]+)_[lr]"', level["sql_condition"])
        }
        if read & used:
            out.add(c["output_column_name"])
    return out


def _prior_rules(fields: list[Field]) -> list[str]:
    """Near-certain matches, for the prior: equal ids, else every typed column equal."""
    ids = [f for f in fields if f.kind in ("id", "email")]
    if ids:
        return [f'l."{f.name}" = r."{f.name}"' for f in ids]
    return [" AND ".join(f'l."{f.name}" = r."{f.name}"' for f in fields)]


def _train(
    linker: Any,
    settings: dict[str, Any],
    fields: list[Field],
    chosen: blocking.BlockingPlan,
    prepared: list[str],
    seed: int,
    stages: _Stages,
    report: LinkReport,
) -> None:
    comparisons = settings["comparisons"]
    stages.start("train u (random pairs)")
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    report.training.append(f"u from up to {U_MAX_PAIRS:,} random pairs")
    sessions = _sessions(chosen, comparisons, [f.name for f in fields], report)
    for round_ in (1, 2):
        stages.start("train m (EM)" if round_ == 1 else "train m (EM, u corrected)", len(sessions))
        for done, session in enumerate(sessions, start=1):
            linker.training.estimate_parameters_using_expectation_maximisation(
                session.rule.sql(),
                max_pairs=EM_MAX_PAIRS if session.pairs > EM_MAX_PAIRS else None,
            )
            report.training.append(
                f"m by EM on pairs blocked by {session.rule.label} "
                f"({min(session.pairs, EM_MAX_PAIRS):,} pairs)"
            )
            stages.on_progress(stages.current or "", done, len(sessions))
        _exact_at_least_as_strong(linker)
        stages.start("prior")
        _estimate_prior(linker, fields, prepared, report)
        if round_ == 2 or not _decontaminate_u(linker):
            break
        report.training.append("u corrected for the true matches among the random pairs; m trained again")


def _sessions(
    chosen: blocking.BlockingPlan, comparisons: list[dict[str, Any]], names: list[str], report: LinkReport
) -> list[blocking.RulePlan]:
    """Training sessions: greedily, the kept rule that frees the most comparisons still needing an
    estimate (ties: a plain rule before a swapped one, then more pairs to learn from), until each
    comparison has been free in two sessions where the rules allow (Splink averages them)."""
    needed = dict.fromkeys(names, 2)
    sessions: list[blocking.RulePlan] = []
    options = [p for p in chosen.kept if p.pairs > 0]

    def gain(plan: blocking.RulePlan) -> int:
        return sum(1 for n in set(names) - _deactivated(plan.rule, comparisons) if needed[n] > 0)

    while options and len(sessions) < 4:
        best = max(options, key=lambda p: (gain(p), p.rule.symmetric, min(p.pairs, EM_MAX_PAIRS)))
        if gain(best) == 0:
            break
        sessions.append(best)
        options.remove(best)
        for n in set(names) - _deactivated(best.rule, comparisons):
            needed[n] -= 1
    never = sorted(n for n, left in needed.items() if left == 2)
    if never:
        report.warnings.append(
            "m not estimated for " + ", ".join(never) + " (every blocking rule uses it): starting "
            "values are used; add a blocking rule on other columns"
        )
    return sessions


def _graded(comparison: Any) -> list[Any]:
    return [level for level in comparison.comparison_levels if not level.is_null_level]


def _exact_at_least_as_strong(linker: Any) -> None:
    """Exact agreement implies every weaker level, so it must weigh at least as much as any of them;
    EM on little data can say otherwise (exact-level m shared with a 'same words' level)."""
    for compared in linker._settings_obj.comparisons:
        levels = _graded(compared)
        exact, others = levels[0], levels[1:-1]
        weights = [
            math.log2(lv.m_probability / lv.u_probability)
            for lv in others
            if lv.m_probability and lv.u_probability
        ]
        if not weights or not exact.u_probability or not exact.m_probability:
            continue
        if math.log2(exact.m_probability / exact.u_probability) < max(weights):
            exact.m_probability = min(0.999, exact.u_probability * 2 ** max(weights))
            total = sum(lv.m_probability for lv in levels)
            for level in levels:
                level.m_probability = level.m_probability / total


def _decontaminate_u(linker: Any) -> bool:
    """u comes from random pairs, assumed non-matches; in a small table many are matches (a 60-row
    file with 5 records per company: 7 % of all pairs). Remove their share, u' = (u - prior * m) /
    (1 - prior), and say whether that changed anything worth training again for (> 5 % on a level
    holding more than 0.1 % of non-matches)."""
    prior = float(linker._settings_obj._probability_two_random_records_match)
    changed = False
    for compared in linker._settings_obj.comparisons:
        levels = _graded(compared)
        corrected = []
        for level in levels:
            u, m = float(level.u_probability or 0.0), float(level.m_probability or 0.0)
            new = max((u - prior * m) / (1 - prior), u * 0.01, 1e-6) if u else u
            # only a level common enough to steer EM is worth training again for
            changed |= u > 1e-3 and abs(new - u) / u > 0.05
            corrected.append(new)
        total = sum(corrected) or 1.0
        for level, value in zip(levels, corrected, strict=True):
            if value:
                # Splink re-reads u and m from its lists of trained values after every EM session:
                # the corrected u replaces the sampled one, and m starts afresh
                level._trained_u_probabilities = [
                    {"probability": value / total, "description": "corrected", "m_or_u": "u"}
                ]
                level.u_probability = value / total
            level._trained_m_probabilities = []
    return changed


def _estimate_prior(linker: Any, fields: list[Field], prepared: list[str], report: LinkReport) -> None:
    """How likely two random records match (the prior), from pairs equal on near-certain rules —
    equal ids, else every column equal — divided by the share of true matches those rules find. That
    share follows from the trained model: a match agrees exactly on a column with that column's
    exact-level m, when both records have a value."""
    m_exact = {
        c.output_column_name: float(c.comparison_levels[1].m_probability or 0.0)
        for c in linker._settings_obj.comparisons
    }
    con = linker._db_api.duckdb_con if hasattr(linker._db_api, "duckdb_con") else None
    filled: dict[str, float] = {}
    for f in fields:
        shares = [
            float(
                con.execute(
                    f'SELECT avg(CASE WHEN "{f.name}" IS NULL THEN 0 ELSE 1 END) FROM {t}'
                ).fetchall()[0][0]
                or 0
            )
            if con is not None
            else 1.0
            for t in prepared
        ]
        filled[f.name] = math.prod(shares) if len(shares) == 2 else shares[0] ** 2
    ids = [f for f in fields if f.kind in ("id", "email")]
    if ids:
        rules = [f'l."{f.name}" = r."{f.name}"' for f in ids]
        recall = 1 - math.prod(1 - m_exact[f.name] * filled[f.name] for f in ids)
    else:
        rules = [" AND ".join(f'l."{f.name}" = r."{f.name}"' for f in fields)]
        recall = math.prod(m_exact[f.name] * filled[f.name] for f in fields)
    recall = min(1.0, max(recall, 0.01))
    linker.training.estimate_probability_two_random_records_match(rules, recall=recall)
    report.training.append(
        f"prior from pairs with {' or '.join(rules)}, which the model expects to find {recall:.1%} of matches"
    )


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
