"""Scheduled retraining: a new snapshot, a challenger trained on it, and a recorded decision.

The challenger and the current `production` version are both scored (macro-F1) on the challenger's test
split; the challenger is promoted only when it beats production by the schedule's margin (or when there is
no production version, or production cannot read the current vectors). Both scores and the reason are kept.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from harvest.db.engine import get_engine
from harvest.db.models import RetrainDecision, RetrainSchedule
from harvest.errors import HarvestError, InvalidInputError, NotFoundError
from harvest.settings import Settings
from harvest.train.datasets import check_name, get_dataset
from harvest.train.head import targets
from harvest.train.metrics import macro_f1, predict_labels
from harvest.train.registry import (
    NoProductionVersionError,
    VersionView,
    get_version,
    production_version,
    promote,
)
from harvest.train.snapshots import SnapshotView, load_snapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    model: str
    snapshot_id: str
    challenger_version: int
    champion_version: int | None
    challenger_score: float
    champion_score: float | None
    margin: float
    promoted: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def set_schedule(
    settings: Settings,
    model_name: str,
    dataset: str,
    cron: str,
    margin: float | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from croniter import croniter

    check_name(model_name, "model")
    if not croniter.is_valid(cron):
        raise InvalidInputError(f"{cron!r} is not a cron expression (e.g. '0 3 * * 1' for Mondays at 03:00)")
    margin = settings.retrain_margin if margin is None else margin
    if not 0 <= margin <= 1:
        raise InvalidInputError("the margin is a macro-F1 difference between 0 and 1")
    engine = get_engine(settings)
    view = get_dataset(engine, dataset)
    values = {
        "model_name": model_name,
        "dataset_id": view.id,
        "cron": cron,
        "margin": margin,
        "params": params or {},
    }
    with engine.begin() as conn:
        conn.execute(
            pg_insert(RetrainSchedule)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["model_name"], set_={k: v for k, v in values.items() if k != "model_name"}
            )
        )
    return {"model": model_name, "dataset": dataset, "cron": cron, "margin": margin}


def remove_schedule(settings: Settings, model_name: str) -> None:
    with get_engine(settings).begin() as conn:
        if (
            conn.execute(delete(RetrainSchedule).where(RetrainSchedule.model_name == model_name)).rowcount
            == 0
        ):
            raise NotFoundError(f"model {model_name!r} has no retrain schedule")


def list_schedules(settings: Settings) -> list[dict[str, Any]]:
    from croniter import croniter

    now = datetime.now(UTC)
    with get_engine(settings).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT r.*, d.name AS dataset FROM retrain_schedules r JOIN datasets d ON d.id = "
                "r.dataset_id "
                "ORDER BY r.model_name"
            )
        ).all()
    return [
        {
            "model": r.model_name,
            "dataset": r.dataset,
            "cron": r.cron,
            "margin": r.margin,
            "last_run_at": r.last_run_at.isoformat() if r.last_run_at else None,
            "next_run_at": croniter(r.cron, now).get_next(datetime).isoformat(),
        }
        for r in rows
    ]


def due_schedules(settings: Settings, when: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """(model, dataset, params) of schedules firing at this minute, marked as run (once per minute)."""
    from croniter import croniter

    minute = when.replace(second=0, microsecond=0)
    due = []
    engine = get_engine(settings)
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT r.model_name, r.cron, r.params, r.last_run_at, d.name AS dataset FROM "
                "retrain_schedules r "
                "JOIN datasets d ON d.id = r.dataset_id FOR UPDATE OF r"
            )
        ).all()
        for row in rows:
            if not croniter.match(row.cron, minute) or (row.last_run_at and row.last_run_at >= minute):
                continue
            conn.execute(
                update(RetrainSchedule)
                .where(RetrainSchedule.model_name == row.model_name)
                .values(last_run_at=minute)
            )
            due.append((row.model_name, row.dataset, dict(row.params)))
    return due


def _score(settings: Settings, version: VersionView, table: Any, classes: list[str], task: str) -> float:
    """A version's macro-F1 on the test split of `table` (the challenger's snapshot)."""
    from harvest.train.inference import LoadedModel, _load

    splits = table.column("split").to_pylist()
    idx = [i for i, s in enumerate(splits) if s == "test"] or [
        i for i, s in enumerate(splits) if s == "validation"
    ]
    labels = [table.column("labels").to_pylist()[i] for i in idx]
    loaded = LoadedModel(version, _load(settings, version))
    if version.kind == "head":
        vectors = np.asarray([table.column("vector").to_pylist()[i] for i in idx], dtype=np.float32)
        probabilities = loaded.probabilities_from_vectors(vectors)
    else:
        texts = table.column("text").to_pylist()
        titles = table.column("title").to_pylist()
        probabilities = loaded.probabilities_from_texts(
            [f"{titles[i] or ''}\n\n{texts[i]}".strip() for i in idx]
        )
    # the champion may know other labels: compare on the challenger's label set, by name
    own = loaded.classes
    if own != classes:
        mapped = np.zeros((len(idx), len(classes)), dtype=np.float32)
        for j, name in enumerate(classes):
            if name in own:
                mapped[:, j] = probabilities[:, own.index(name)]
        probabilities = mapped
    y_true = targets(labels, classes, task)
    return macro_f1(y_true, predict_labels(probabilities, task), len(classes), task)


def decide(settings: Settings, model_name: str, challenger: int, snapshot: SnapshotView) -> Decision:
    engine = get_engine(settings)
    with engine.connect() as conn:
        margin_row = conn.execute(
            select(RetrainSchedule.margin).where(RetrainSchedule.model_name == model_name)
        ).first()
    margin = float(margin_row[0]) if margin_row else settings.retrain_margin
    challenger_view = get_version(settings, model_name, challenger)
    classes, task = challenger_view.classes, challenger_view.task
    with tempfile.TemporaryDirectory(prefix="harvest-retrain-") as tmp:
        table = load_snapshot(settings, snapshot, Path(tmp))
        challenger_score = _score(settings, challenger_view, table, classes, task)
        try:
            champion: VersionView | None = production_version(settings, model_name)
        except NoProductionVersionError:
            champion = None
        champion_score: float | None = None
        if champion is None:
            promoted, reason = True, "no production version yet"
        elif champion.kind == "head" and champion.embedding_model != snapshot.embedding_model:
            promoted, reason = (
                True,
                (
                    f"production (v{champion.version}) was trained on {champion.embedding_model!r}, "
                    f"the data now has {snapshot.embedding_model!r} vectors"
                ),
            )
        else:
            try:
                champion_score = _score(settings, champion, table, classes, task)
            except HarvestError as error:
                champion_score, promoted, reason = (
                    None,
                    True,
                    f"production could not be scored: {error.message}",
                )
            else:
                promoted = challenger_score >= champion_score + margin
                reason = (
                    f"challenger {challenger_score:.4f} {'≥' if promoted else '<'} production "
                    f"{champion_score:.4f} + margin {margin:.4f}"
                )
    if promoted:
        promote(settings, model_name, challenger)
    decision = Decision(
        model_name,
        snapshot.id,
        challenger,
        champion.version if champion else None,
        challenger_score,
        champion_score,
        margin,
        promoted,
        reason,
    )
    with engine.begin() as conn:
        conn.execute(
            pg_insert(RetrainDecision).values(
                model_name=model_name,
                snapshot_id=snapshot.id,
                challenger_version=challenger,
                champion_version=decision.champion_version,
                challenger_score=challenger_score,
                champion_score=champion_score,
                margin=margin,
                promoted=promoted,
                reason=reason,
            )
        )
    logger.info("retrain decision", extra={"model": model_name, "promoted": promoted, "reason": reason})
    return decision


def list_decisions(settings: Settings, model_name: str, limit: int = 20) -> list[dict[str, Any]]:
    with get_engine(settings).connect() as conn:
        rows = conn.execute(
            select(RetrainDecision)
            .where(RetrainDecision.model_name == model_name)
            .order_by(RetrainDecision.id.desc())
            .limit(limit)
        ).all()
    return [
        {
            "id": r.id,
            "snapshot_id": r.snapshot_id,
            "challenger_version": r.challenger_version,
            "champion_version": r.champion_version,
            "challenger_score": r.challenger_score,
            "champion_score": r.champion_score,
            "margin": r.margin,
            "promoted": r.promoted,
            "reason": r.reason,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]
