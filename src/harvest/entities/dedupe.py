"""`harvest entities dedupe` / `link` / `explain` as service calls: settings → engine → linkage run,
with the default output names next to the result."""

from __future__ import annotations

from pathlib import Path

from harvest.entities.engine import Engine
from harvest.entities.explain import Explanation, explain
from harvest.entities.fields import LinkConfig, load_config, parse_fields
from harvest.entities.linkage import LinkReport, LinkSpec, Progress, run
from harvest.errors import InvalidInputError
from harvest.settings import Settings


def engine_for(settings: Settings) -> Engine:
    return Engine(
        threads=settings.entity_threads,
        memory_limit=settings.entity_memory_limit,
        spark_master=settings.spark_master,
    )


def build_config(
    fields: str | None, config: Path | None, id_column: str | None, blocks: list[str]
) -> LinkConfig:
    """Fields from `--fields` or a YAML `--config` (flags override the file's id and add blocking rules)."""
    if config is not None:
        loaded = load_config(config)
        if fields:
            loaded.fields = parse_fields(fields)
    elif fields:
        loaded = LinkConfig(parse_fields(fields))
    else:
        raise InvalidInputError("give the columns to compare: --fields column:type,… or --config FILE.yaml")
    if id_column:
        loaded.id_column = id_column
    if blocks:
        loaded.blocking = (loaded.blocking or []) + [
            [c.strip() for c in b.split("+") if c.strip()] for b in blocks
        ]
    return loaded


def side_outputs(out: Path) -> tuple[Path, Path]:
    """The model and chart written next to `out` unless named: x.csv → x.model.json, x.weights.png."""
    stem = out.with_suffix("")
    return stem.with_name(stem.name + ".model.json"), stem.with_name(stem.name + ".weights.png")


def link_files(
    settings: Settings,
    inputs: list[Path],
    config: LinkConfig,
    *,
    out: Path,
    pairs_out: Path | None,
    model_out: Path | None,
    chart_out: Path | None,
    model_in: Path | None,
    threshold: float | None,
    force: bool,
    on_progress: Progress,
) -> LinkReport:
    default_model, default_chart = side_outputs(out)
    spec = LinkSpec(
        inputs=inputs,
        fields=config.fields,
        threshold=threshold or config.threshold or settings.entity_match_probability,
        id_column=config.id_column,
        blocking=config.blocking,
        out=out,
        pairs_out=pairs_out,
        model_out=model_out or default_model,
        chart_out=chart_out or default_chart,
        model_in=model_in,
        pairs_per_row=settings.entity_pairs_per_record,
        force=force,
    )
    with engine_for(settings) as engine:
        return run(spec, engine, on_progress)


def explain_pair(
    settings: Settings, model: Path, first: str, second: str, data: list[Path] | None
) -> Explanation:
    with engine_for(settings) as engine:
        return explain(model, first, second, engine, data)
