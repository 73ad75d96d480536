"""The `predict` stage: label a source's new documents with a model's production version and store it.

Incremental: a document is predicted again only when its page version or the production version changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from harvest.db.engine import get_engine
from harvest.db.models import Prediction, Source
from harvest.errors import NotFoundError
from harvest.settings import Settings
from harvest.train.inference import Predictor

BATCH = 64

_PENDING = """
SELECT d.id, d.page_version FROM documents d JOIN sources s ON s.id = d.source_id
WHERE s.name = :source AND d.duplicate_of_id IS NULL AND d.skip_reason IS NULL AND d.text <> ''
  AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.document_id = d.id AND p.model_name = :model
                  AND p.model_version = :version AND p.page_version = d.page_version)
ORDER BY d.id
"""


@dataclass
class PredictReport:
    model: str
    version: int
    source: str
    predicted: int = 0
    labels: dict[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_version": self.version,
            "source": self.source,
            "predicted": self.predicted,
            "labels": self.labels or {},
        }


def predict_source(
    settings: Settings,
    model_name: str,
    source: str,
    *,
    predictor: Predictor | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> PredictReport:
    engine = get_engine(settings)
    _check_source(engine, source)
    predictor = predictor or Predictor(settings)
    loaded = predictor.model(model_name)
    version = loaded.version.version
    with engine.connect() as conn:
        pending = conn.execute(
            text(_PENDING), {"source": source, "model": model_name, "version": version}
        ).all()
    report = PredictReport(model_name, version, source, 0, {})
    assert report.labels is not None
    for start in range(0, len(pending), BATCH):
        batch = pending[start : start + BATCH]
        outputs = predictor.predict_documents(model_name, [row.id for row in batch])
        rows = [
            {
                "document_id": row.id,
                "page_version": row.page_version,
                "model_name": model_name,
                "model_version": out.version,
                "label": out.label,
                "labels": out.labels,
                "score": out.score,
                "probabilities": out.probabilities,
            }
            for row, out in zip(batch, outputs, strict=True)
        ]
        with engine.begin() as conn:
            conn.execute(pg_insert(Prediction).on_conflict_do_nothing(), rows)
        for out in outputs:
            report.labels[out.label] = report.labels.get(out.label, 0) + 1
        report.predicted += len(rows)
        if on_progress is not None:
            on_progress(report.predicted, len(pending))
    return report


def _check_source(engine: Engine, source: str) -> None:
    with engine.connect() as conn:
        if conn.execute(select(Source.id).where(Source.name == source)).first() is None:
            raise NotFoundError(f"no source named {source!r} (see `harvest source list`)")


def get_prediction(engine: Engine, prediction_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT p.*, d.url, s.name AS source FROM predictions p JOIN documents d ON d.id = "
                "p.document_id "
                "JOIN sources s ON s.id = d.source_id WHERE p.id = :id"
            ),
            {"id": prediction_id},
        ).first()
    if row is None:
        raise NotFoundError(f"no prediction {prediction_id}")
    return _json(row)


def document_predictions(engine: Engine, document_id: int, limit: int = 50) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.*, d.url, s.name AS source FROM predictions p JOIN documents d ON d.id = "
                "p.document_id "
                "JOIN sources s ON s.id = d.source_id WHERE p.document_id = :id ORDER BY p.id DESC "
                "LIMIT :limit"
            ),
            {"id": document_id, "limit": limit},
        ).all()
    return [_json(row) for row in rows]


def _json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "document_id": row.document_id,
        "url": row.url,
        "source": row.source,
        "page_version": row.page_version,
        "model": row.model_name,
        "model_version": row.model_version,
        "label": row.label,
        "labels": list(row.labels),
        "score": row.score,
        "probabilities": dict(row.probabilities),
        "created_at": row.created_at.isoformat(),
    }
