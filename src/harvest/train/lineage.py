"""Lineage, both ways: model version → MLflow run → snapshot → documents → exact page versions, and from a
document (or a prediction) back to the snapshots and model versions that used it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from harvest.db.engine import get_engine
from harvest.db.models import SnapshotDocument
from harvest.errors import NotFoundError
from harvest.settings import Settings
from harvest.train import tracking
from harvest.train.predictions import document_predictions, get_prediction
from harvest.train.registry import get_version, versions_with_tag
from harvest.train.snapshots import get_snapshot


def model_lineage(
    settings: Settings, name: str, version: int, *, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    view = get_version(settings, name, version)
    run: dict[str, Any] | None = None
    if view.run_id:
        try:
            info = tracking.client(settings).get_run(view.run_id)
            run = {
                "run_id": view.run_id,
                "status": info.info.status,
                "experiment_id": info.info.experiment_id,
                "params": dict(info.data.params),
                "metrics": dict(info.data.metrics),
                "artifact_uri": info.info.artifact_uri,
            }
        except Exception:  # deleted from MLflow: the rest of the chain still stands
            run = {"run_id": view.run_id, "status": "deleted"}
    snapshot = (
        get_snapshot(get_engine(settings), view.snapshot_id, missing_ok=True) if view.snapshot_id else None
    )
    documents, total = (
        ([], 0) if snapshot is None else _snapshot_documents(settings, snapshot.id, limit, offset)
    )
    return {
        "model": view.to_json(),
        "run": run,
        "snapshot": None
        if snapshot is None
        else {k: v for k, v in snapshot.to_json().items() if k != "manifest"}
        | {
            "label_distribution": snapshot.manifest.get("label_distribution"),
            "splits": snapshot.manifest.get("splits"),
        },
        "documents": documents,
        "documents_total": total,
        "limit": limit,
        "offset": offset,
    }


def _snapshot_documents(
    settings: Settings, snapshot_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    engine = get_engine(settings)
    with engine.connect() as conn:
        total = int(
            conn.execute(
                select(func.count())
                .select_from(SnapshotDocument)
                .where(SnapshotDocument.snapshot_id == snapshot_id)
            ).scalar_one()
        )
        rows = conn.execute(
            select(SnapshotDocument)
            .where(SnapshotDocument.snapshot_id == snapshot_id)
            .order_by(SnapshotDocument.document_id)
            .limit(limit)
            .offset(offset)
        ).all()
    return [
        {
            "document_id": r.document_id,
            "url": r.url,
            "page_version": r.page_version,
            "content_hash": r.content_hash,
            "fetched_at": r.fetched_at.isoformat() if r.fetched_at else None,
            "split": r.split,
            "labels": list(r.labels),
        }
        for r in rows
    ], total


def document_lineage(settings: Settings, document_id: int) -> dict[str, Any]:
    engine = get_engine(settings)
    with engine.connect() as conn:
        doc = conn.execute(
            text(
                "SELECT d.id, d.url, d.page_version, p.version AS page_latest, p.content_hash, "
                "p.last_fetched_at, "
                "s.name AS source FROM documents d JOIN pages p ON p.id = d.page_id "
                "JOIN sources s ON s.id = d.source_id WHERE d.id = :id"
            ),
            {"id": document_id},
        ).first()
        used = conn.execute(
            text(
                "SELECT sd.*, ds.created_at AS snapshot_created, dt.name AS dataset FROM "
                "snapshot_documents sd "
                "JOIN dataset_snapshots ds ON ds.id = sd.snapshot_id JOIN datasets dt ON dt.id = "
                "ds.dataset_id "
                "WHERE sd.document_id = :id ORDER BY ds.created_at DESC"
            ),
            {"id": document_id},
        ).all()
    if doc is None and not used:
        raise NotFoundError(f"no document {document_id} (see `harvest documents list`)")
    snapshots = []
    for row in used:
        versions = versions_with_tag(settings, "harvest.snapshot_id", row.snapshot_id)
        snapshots.append(
            {
                "snapshot_id": row.snapshot_id,
                "dataset": row.dataset,
                "created_at": row.snapshot_created.isoformat(),
                "page_version": row.page_version,
                "content_hash": row.content_hash,
                "split": row.split,
                "labels": list(row.labels),
                "model_versions": [
                    {"name": v.name, "version": v.version, "aliases": v.aliases} for v in versions
                ],
            }
        )
    return {
        "document": None
        if doc is None
        else {
            "id": doc.id,
            "url": doc.url,
            "source": doc.source,
            "page_version": doc.page_version,
            "latest_page_version": doc.page_latest,
            "content_hash": doc.content_hash if doc.page_version == doc.page_latest else None,
            "fetched_at": doc.last_fetched_at.isoformat() if doc.last_fetched_at else None,
        },
        "snapshots": snapshots,
        "predictions": document_predictions(engine, document_id),
    }


def prediction_lineage(settings: Settings, prediction_id: int) -> dict[str, Any]:
    prediction = get_prediction(get_engine(settings), prediction_id)
    model = model_lineage(settings, prediction["model"], prediction["model_version"], limit=0)
    return {
        "prediction": prediction,
        "model": model["model"],
        "run": model["run"],
        "snapshot": model["snapshot"],
    }
