"""Response shapes of the training, registry and lineage API (/api/datasets, /api/train, /api/models,
/api/lineage): what harvest.train's views write as JSON, typed for the OpenAPI contract the UI is generated
from. Optional fields without a value are absent from an answer, not null (those routes exclude unset
fields): a lineage run deleted from MLflow has only `run_id` and `status`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class DatasetOut(BaseModel):
    """A dataset definition: which sources, the label rule, the task and the split fractions."""

    id: int
    name: str
    task: str
    sources: list[str]
    label_rule: dict[str, Any] = Field(description='as sent, e.g. {"kind": "url", "pattern": "…"}')
    label_rule_text: str
    splits: dict[str, float]
    language: str | None
    description: str | None
    created_at: datetime
    snapshots: int
    imported_labels: int


class SnapshotOut(BaseModel):
    """A dataset snapshot (Parquet + manifest in the ObjectStore), named by a hash of its content."""

    id: str
    dataset: str
    object_key: str
    embedding_model: str
    rows: int
    created_at: datetime
    reused: bool = Field(description="the same content was already stored: nothing new was written")
    manifest: dict[str, Any]


class DatasetDetail(DatasetOut):
    """A dataset with a preview of its labels over the current documents and its snapshots."""

    documents: int
    labelled: int
    labels: dict[str, int] = Field(description="documents per label")
    snapshot_list: list[SnapshotOut]


class TrainingRunOut(BaseModel):
    """A training run: what was asked, its status (queued, running, succeeded, failed) and its outcome."""

    id: int
    dataset: str
    model: str
    status: str
    trigger: str
    params: dict[str, Any]
    attempts: int
    snapshot_id: str | None
    mlflow_run_id: str | None
    model_version: int | None
    metrics: dict[str, float] | None
    message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ModelSummary(BaseModel):
    """A registered model: the version behind `production`, the latest, and the promotion history."""

    name: str
    production: int | None
    latest: int | None
    versions: int
    updated_at: datetime | None
    production_history: list[int]


class ModelVersionOut(BaseModel):
    """A registered model version, with the lineage tags it was registered with and its test metrics."""

    name: str
    version: int
    run_id: str | None
    status: str
    created_at: datetime
    aliases: list[str] = Field(description="e.g. ['production'] for the version that serves")
    dataset: str | None
    snapshot_id: str | None
    embedding_model: str | None
    kind: str
    task: str
    labels: list[str]
    metrics: dict[str, float]
    training_run: int | None


class RetrainDecisionOut(BaseModel):
    """What a retraining decided: both versions' scores on the challenger's test split, and why."""

    id: int
    snapshot_id: str
    challenger_version: int
    champion_version: int | None
    challenger_score: float
    champion_score: float | None
    margin: float
    promoted: bool
    reason: str
    created_at: datetime


class ModelDetail(ModelSummary):
    version_list: list[ModelVersionOut] = Field(description="newest first")
    retrain_decisions: list[RetrainDecisionOut] = Field(description="newest first")


class EpochPoint(BaseModel):
    """One epoch of a training run (MLflow's step); a metric not logged at that step is absent."""

    epoch: float
    train_loss: float | None = None
    val_loss: float | None = None
    val_macro_f1: float | None = None
    val_accuracy: float | None = None


class VersionDetail(ModelVersionOut):
    history: list[EpochPoint] = Field(description="the training run's metrics per epoch, for charts")


class PredictionOut(BaseModel):
    label: str
    labels: list[str]
    score: float
    probabilities: dict[str, float]
    model: str
    model_version: int
    document_id: int | None = Field(default=None, description="only when documents were sent")


class Predictions(BaseModel):
    model: str
    model_version: int
    predictions: list[PredictionOut]


class StoredPrediction(BaseModel):
    """A label a model version gave a document's page version (the `predict` stage stores these)."""

    id: int
    document_id: int
    url: str
    source: str
    page_version: int
    model: str
    model_version: int
    label: str
    labels: list[str]
    score: float
    probabilities: dict[str, float]
    created_at: datetime


class LineageRun(BaseModel):
    """The MLflow run that trained a version; only `run_id` and `status` ("deleted") when it is gone."""

    run_id: str
    status: str
    experiment_id: str | None = None
    params: dict[str, str] | None = None
    metrics: dict[str, float] | None = None
    artifact_uri: str | None = None


class LineageSnapshot(BaseModel):
    id: str
    dataset: str
    object_key: str
    embedding_model: str
    rows: int
    created_at: datetime
    reused: bool
    label_distribution: dict[str, dict[str, int]] | None = Field(description="per split: rows per label")
    splits: dict[str, int] | None = Field(description="rows per split")


class LineageDocument(BaseModel):
    """A document as a snapshot holds it: the exact page version and content hash it was trained on."""

    document_id: int
    url: str
    page_version: int
    content_hash: str
    fetched_at: datetime | None
    split: str
    labels: list[str]


class ModelLineage(BaseModel):
    """Model version → MLflow run → snapshot → documents (paged by `limit`/`offset`)."""

    model: ModelVersionOut
    run: LineageRun | None
    snapshot: LineageSnapshot | None
    documents: list[LineageDocument]
    documents_total: int
    limit: int
    offset: int


class LineageDocumentRef(BaseModel):
    id: int
    url: str
    source: str
    page_version: int
    latest_page_version: int
    content_hash: str | None = Field(description="null when the document is behind its page's version")
    fetched_at: datetime | None


class VersionRef(BaseModel):
    name: str
    version: int
    aliases: list[str]


class DocumentSnapshotUse(BaseModel):
    """A snapshot that holds the document, and the model versions trained on it."""

    snapshot_id: str
    dataset: str
    created_at: datetime
    page_version: int
    content_hash: str
    split: str
    labels: list[str]
    model_versions: list[VersionRef]


class DocumentLineage(BaseModel):
    """Document → the snapshots and model versions that used it, and the predictions made for it."""

    document: LineageDocumentRef | None = Field(description="null when the document is gone")
    snapshots: list[DocumentSnapshotUse]
    predictions: list[StoredPrediction]


class PredictionLineage(BaseModel):
    """Prediction → the model version that made it → its run and snapshot."""

    prediction: StoredPrediction
    model: ModelVersionOut
    run: LineageRun | None
    snapshot: LineageSnapshot | None
