"""/api/datasets, /api/train, /api/models (registry, predict), /api/lineage: the train stage over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from harvest.api.auth import require_read, require_write, settings_of
from harvest.api.schemas import Page
from harvest.db.engine import get_engine
from harvest.errors import InvalidInputError

router = APIRouter(tags=["training"])
Name = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


class DatasetIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    sources: list[str] = Field(min_length=1, max_length=100)
    label_rule: dict[str, Any] = Field(
        description='e.g. {"kind": "url", "pattern": "/docs/(?P<label>[^/]+)/"}'
    )
    task: str = "classify"
    splits: dict[str, float] | None = None
    language: str | None = Field(default=None, max_length=16)
    description: str | None = Field(default=None, max_length=2000)


class TrainIn(BaseModel):
    dataset: str = Field(min_length=1, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    epochs: int | None = Field(default=None, ge=1, le=10_000)
    finetune: bool = False
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)


class PromoteIn(BaseModel):
    version: int = Field(ge=1, le=2**31 - 1)


class PredictIn(BaseModel):
    texts: list[str] | None = Field(default=None, max_length=100_000)
    document_ids: list[int] | None = Field(default=None, max_length=100_000)


class Predictions(BaseModel):
    model: str
    model_version: int
    predictions: list[dict[str, Any]]


def _page(items: list[Any], total: int, limit: int, offset: int) -> Page[dict[str, Any]]:
    return Page[dict[str, Any]](
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        next_offset=offset + limit if offset + limit < total else None,
    )


@router.get("/api/datasets", dependencies=[Depends(require_read)])
def datasets(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0
) -> Page[dict[str, Any]]:
    from harvest.train.datasets import list_datasets

    views, total = list_datasets(get_engine(settings_of(request)), limit, offset)
    return _page([v.to_json() for v in views], total, limit, offset)


@router.post("/api/datasets", status_code=201, dependencies=[Depends(require_write)])
def create(request: Request, body: DatasetIn) -> dict[str, Any]:
    from harvest.train.datasets import create_dataset

    view = create_dataset(
        get_engine(settings_of(request)),
        body.name,
        sources=body.sources,
        rule=body.label_rule,
        task=body.task,
        splits=body.splits,
        language=body.language,
        description=body.description,
    )
    return view.to_json()


@router.get("/api/datasets/{name}", dependencies=[Depends(require_read)])
def dataset(request: Request, name: Name) -> dict[str, Any]:
    from harvest.train.datasets import get_dataset, preview_labels
    from harvest.train.snapshots import list_snapshots

    engine = get_engine(settings_of(request))
    view = get_dataset(engine, name)
    preview = preview_labels(engine, view)
    return view.to_json() | {
        "documents": preview.documents,
        "labelled": preview.labelled,
        "labels": preview.distribution,
        "snapshot_list": [s.to_json() for s in list_snapshots(engine, name)],
    }


@router.post("/api/datasets/{name}/snapshots", status_code=201, dependencies=[Depends(require_write)])
def snapshot(request: Request, name: Name) -> dict[str, Any]:
    from harvest.train.snapshots import build_snapshot

    return build_snapshot(settings_of(request), name).to_json()


@router.post("/api/train", status_code=202, dependencies=[Depends(require_write)])
def train(request: Request, body: TrainIn) -> dict[str, Any]:
    """Queue a training run for a worker: snapshot, train, log to MLflow, register a new version."""
    from harvest.train.queueing import queue_training
    from harvest.train.runs import get_training_run
    from harvest.train.trainer import TrainOptions

    current = settings_of(request)
    options = TrainOptions(model_name=body.model, epochs=body.epochs, finetune=body.finetune, seed=body.seed)
    run_id = queue_training(current, body.dataset, options, trigger="api")
    return get_training_run(get_engine(current), run_id).to_json()


@router.get("/api/train", dependencies=[Depends(require_read)])
def training_runs(
    request: Request,
    model: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[dict[str, Any]]:
    from harvest.train.runs import list_training_runs

    runs, total = list_training_runs(
        get_engine(settings_of(request)), model_name=model, limit=limit, offset=offset
    )
    return _page([r.to_json() for r in runs], total, limit, offset)


@router.get("/api/train/{run_id}", dependencies=[Depends(require_read)])
def training_run(request: Request, run_id: Id) -> dict[str, Any]:
    from harvest.train.runs import get_training_run

    return get_training_run(get_engine(settings_of(request)), run_id).to_json()


@router.get("/api/models", dependencies=[Depends(require_read)])
def models(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0
) -> Page[dict[str, Any]]:
    from harvest.train.registry import list_models

    found = list_models(settings_of(request))
    return _page([m.to_json() for m in found[offset : offset + limit]], len(found), limit, offset)


@router.get("/api/models/{name}", dependencies=[Depends(require_read)])
def model(request: Request, name: Name) -> dict[str, Any]:
    from harvest.train.registry import get_model
    from harvest.train.retrain import list_decisions

    current = settings_of(request)
    view, versions = get_model(current, name)
    return view.to_json() | {
        "version_list": [v.to_json() for v in versions],
        "retrain_decisions": list_decisions(current, name),
    }


@router.get("/api/models/{name}/versions/{version}", dependencies=[Depends(require_read)])
def model_version(request: Request, name: Name, version: Version) -> dict[str, Any]:
    from harvest.train.registry import get_version

    return get_version(settings_of(request), name, version).to_json()


@router.post("/api/models/{name}/promote", dependencies=[Depends(require_write)])
def promote(request: Request, name: Name, body: PromoteIn) -> dict[str, Any]:
    from harvest.train.registry import promote as move

    return move(settings_of(request), name, body.version).to_json()


@router.post("/api/models/{name}/rollback", dependencies=[Depends(require_write)])
def rollback(request: Request, name: Name) -> dict[str, Any]:
    from harvest.train.registry import rollback as back

    return back(settings_of(request), name).to_json()


@router.post("/api/models/{name}/predict", dependencies=[Depends(require_read)])
def predict(request: Request, name: Name, body: PredictIn) -> Predictions:
    """Label texts or documents with the version behind `production` (reloaded when the alias moves)."""
    if (body.texts is None) == (body.document_ids is None):
        raise InvalidInputError("send either `texts` or `document_ids`")
    predictor = request.app.state.predictor
    outputs = (
        predictor.predict_texts(name, body.texts)
        if body.texts is not None
        else predictor.predict_documents(name, body.document_ids or [])
    )
    return Predictions(
        model=name, model_version=outputs[0].version, predictions=[o.to_json() for o in outputs]
    )


@router.get("/api/lineage/models/{name}/{version}", dependencies=[Depends(require_read)])
def lineage_model(
    request: Request,
    name: Name,
    version: Version,
    limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    from harvest.train.lineage import model_lineage

    return model_lineage(settings_of(request), name, version, limit=limit, offset=offset)


@router.get("/api/lineage/documents/{document_id}", dependencies=[Depends(require_read)])
def lineage_document(request: Request, document_id: Id) -> dict[str, Any]:
    from harvest.train.lineage import document_lineage

    return document_lineage(settings_of(request), document_id)


@router.get("/api/lineage/predictions/{prediction_id}", dependencies=[Depends(require_read)])
def lineage_prediction(request: Request, prediction_id: Id) -> dict[str, Any]:
    from harvest.train.lineage import prediction_lineage

    return prediction_lineage(settings_of(request), prediction_id)
