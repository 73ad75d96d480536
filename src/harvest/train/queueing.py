"""Training on the task queue: queue a training run (API, schedules, pipelines), and the opt-in of a source
to the `train` / `predict` pipeline stages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from harvest.db.engine import get_engine
from harvest.db.models import PipelineMlStage, Source
from harvest.errors import InvalidInputError, NotFoundError
from harvest.settings import Settings
from harvest.train.datasets import check_name, get_dataset

ML_STAGES = ("train", "predict")


def _source_id(settings: Settings, source: str) -> int:
    with get_engine(settings).connect() as conn:
        found = conn.execute(select(Source.id).where(Source.name == source)).scalar()
    if found is None:
        raise NotFoundError(f"no source named {source!r} (see `harvest source list`)")
    return int(found)


def add_stage(settings: Settings, source: str, stage: str, target: str) -> dict[str, Any]:
    """Opt a source in: its pipelines end with `train` (a dataset) or `predict` (a model's production)."""
    if stage not in ML_STAGES:
        raise InvalidInputError(f"stage {stage!r} is not one of {', '.join(ML_STAGES)}")
    if stage == "train":
        get_dataset(get_engine(settings), target)
    else:
        check_name(target, "model")
    source_id = _source_id(settings, source)
    with get_engine(settings).begin() as conn:
        conn.execute(
            pg_insert(PipelineMlStage)
            .values(source_id=source_id, stage=stage, target=target)
            .on_conflict_do_nothing()
        )
    return {"source": source, "stage": stage, "target": target}


def remove_stage(settings: Settings, source: str, stage: str, target: str) -> None:
    source_id = _source_id(settings, source)
    with get_engine(settings).begin() as conn:
        removed = conn.execute(
            delete(PipelineMlStage).where(
                PipelineMlStage.source_id == source_id,
                PipelineMlStage.stage == stage,
                PipelineMlStage.target == target,
            )
        ).rowcount
    if not removed:
        raise NotFoundError(f"source {source!r} has no {stage} stage for {target!r}")


def list_stages(settings: Settings, source: str | None = None) -> list[dict[str, Any]]:
    query = select(Source.name, PipelineMlStage.stage, PipelineMlStage.target).join(
        Source, Source.id == PipelineMlStage.source_id
    )
    if source is not None:
        _source_id(settings, source)
        query = query.where(Source.name == source)
    with get_engine(settings).connect() as conn:
        rows = conn.execute(query.order_by(Source.name, PipelineMlStage.stage, PipelineMlStage.target)).all()
    return [{"source": r.name, "stage": r.stage, "target": r.target} for r in rows]


def targets_for(settings: Settings, source: str, stage: str) -> list[str]:
    return [row["target"] for row in list_stages(settings, source) if row["stage"] == stage]


def queue_training(settings: Settings, dataset: str, options: Any, *, trigger: str = "api") -> int:
    """A training run queued as a `harvest.train` job (one worker runs it; retried if the worker dies)."""
    from harvest.jobs.queue import defer, sync_queue
    from harvest.train.runs import update_training_run
    from harvest.train.trainer import prepare_training_run

    run_id = prepare_training_run(settings, dataset, options, trigger)
    with sync_queue(settings) as queue:
        job_id = defer(
            queue, "harvest.train", lock=f"train:{options.model_name or dataset}", training_run_id=run_id
        )
    update_training_run(get_engine(settings), run_id, job_id=job_id)
    return run_id
