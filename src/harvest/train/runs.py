"""Training runs in PostgreSQL: what was asked (dataset, model, params), its status, and its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from harvest.db.models import Dataset, TrainingRun
from harvest.errors import NotFoundError


@dataclass(frozen=True)
class TrainingRunView:
    id: int
    dataset: str
    model_name: str
    status: str
    trigger: str
    params: dict[str, Any]
    attempts: int
    snapshot_id: str | None
    mlflow_run_id: str | None
    model_version: int | None
    metrics: dict[str, Any]
    message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dataset": self.dataset,
            "model": self.model_name,
            "status": self.status,
            "trigger": self.trigger,
            "params": self.params,
            "attempts": self.attempts,
            "snapshot_id": self.snapshot_id,
            "mlflow_run_id": self.mlflow_run_id,
            "model_version": self.model_version,
            "metrics": self.metrics,
            "message": self.message,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def create_training_run(
    engine: Engine,
    dataset_id: int,
    model_name: str,
    params: dict[str, Any],
    trigger: str,
    status: str = "queued",
) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(TrainingRun)
                .values(
                    dataset_id=dataset_id,
                    model_name=model_name,
                    params=params,
                    trigger=trigger,
                    status=status,
                )
                .returning(TrainingRun.id)
            ).scalar_one()
        )


def update_training_run(engine: Engine, run_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(**values))


def start_attempt(engine: Engine, run_id: int) -> TrainingRunView:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id)
            .values(
                status="running",
                attempts=TrainingRun.attempts + 1,
                message=None,
                started_at=func.coalesce(TrainingRun.started_at, now),
            )
        )
    return get_training_run(engine, run_id)


def finish(engine: Engine, run_id: int, status: str, message: str | None = None, **values: Any) -> None:
    update_training_run(
        engine, run_id, status=status, message=message, finished_at=datetime.now(UTC), **values
    )


def _view(run: TrainingRun, dataset: str) -> TrainingRunView:
    return TrainingRunView(
        run.id,
        dataset,
        run.model_name,
        run.status,
        run.trigger,
        dict(run.params),
        run.attempts,
        run.snapshot_id,
        run.mlflow_run_id,
        run.model_version,
        dict(run.metrics),
        run.message,
        run.created_at,
        run.started_at,
        run.finished_at,
    )


def get_training_run(engine: Engine, run_id: int) -> TrainingRunView:
    with Session(engine) as conn:
        row = conn.execute(
            select(TrainingRun, Dataset.name)
            .join(Dataset, Dataset.id == TrainingRun.dataset_id)
            .where(TrainingRun.id == run_id)
        ).first()
    if row is None:
        raise NotFoundError(f"no training run {run_id}")
    return _view(row[0], row[1])


def list_training_runs(
    engine: Engine, *, model_name: str | None = None, limit: int = 20, offset: int = 0
) -> tuple[list[TrainingRunView], int]:
    query = select(TrainingRun, Dataset.name).join(Dataset, Dataset.id == TrainingRun.dataset_id)
    count = select(func.count()).select_from(TrainingRun)
    if model_name is not None:
        query = query.where(TrainingRun.model_name == model_name)
        count = count.where(TrainingRun.model_name == model_name)
    with Session(engine) as conn:
        total = int(conn.execute(count).scalar_one())
        rows = conn.execute(query.order_by(TrainingRun.id.desc()).limit(limit).offset(offset)).all()
    return [_view(run, name) for run, name in rows], total
