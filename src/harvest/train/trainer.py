"""`harvest train`: snapshot → PyTorch training → an MLflow run → a new registered model version.

The version is registered last, after every artifact is logged, so a failed or killed run leaves no version.
A training run (our row) remembers its MLflow run: when a retried attempt (a worker died) starts, the dead
attempt's MLflow run is marked failed, and a version already registered by the training run is reused, so
one training run registers exactly one version.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harvest.db.engine import get_engine
from harvest.errors import InvalidInputError
from harvest.settings import Settings
from harvest.train import tracking
from harvest.train.datasets import check_name, get_dataset
from harvest.train.head import TrainConfig, TrainResult, predict_proba, targets, train_head
from harvest.train.metrics import EpochMetrics, confusion_figure, macro_f1, predict_labels, report
from harvest.train.runs import (
    TrainingRunView,
    create_training_run,
    finish,
    get_training_run,
    start_attempt,
    update_training_run,
)
from harvest.train.snapshots import SnapshotView, build_snapshot, load_snapshot

logger = logging.getLogger(__name__)

TRAINING_RUN_TAG = "harvest.training_run"


@dataclass(frozen=True)
class TrainOptions:
    model_name: str | None = None
    epochs: int | None = None
    finetune: bool = False
    seed: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    patience: int | None = None
    retrain: bool = False  # a scheduled challenger: evaluate against production and promote if better

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False}


Status = Callable[[str], None]


def prepare_training_run(settings: Settings, dataset: str, options: TrainOptions, trigger: str) -> int:
    engine = get_engine(settings)
    view = get_dataset(engine, dataset)
    model_name = check_name(options.model_name or view.name, "model")
    return create_training_run(engine, view.id, model_name, options.params(), trigger)


def train(
    settings: Settings,
    dataset: str,
    options: TrainOptions,
    *,
    trigger: str = "cli",
    on_epoch: Callable[[EpochMetrics, int], None] | None = None,
    on_status: Status | None = None,
) -> TrainingRunView:
    """Train now, in this process (the CLI); the queue's task calls `run_training` the same way."""
    run_id = prepare_training_run(settings, dataset, options, trigger)
    return run_training(settings, run_id, on_epoch=on_epoch, on_status=on_status)


def train_if_changed(
    settings: Settings, dataset: str, options: TrainOptions, *, checkpoint: Callable[[], None] | None = None
) -> dict[str, Any]:
    """The pipeline's `train` stage: train only when the dataset's snapshot differs from the one the latest
    training of this model used (unchanged data gives the same snapshot id)."""
    from harvest.train.runs import list_training_runs

    engine = get_engine(settings)
    model_name = options.model_name or dataset
    snapshot = build_snapshot(settings, dataset)
    runs, _ = list_training_runs(engine, model_name=model_name, limit=20)
    done = next((r for r in runs if r.status == "succeeded" and r.snapshot_id == snapshot.id), None)
    if done is not None:
        return {"snapshot": snapshot.id[:12], "unchanged": True, "version": done.model_version}
    run_id = prepare_training_run(settings, dataset, options, "pipeline")
    run = run_training(settings, run_id, checkpoint=checkpoint)
    return {"snapshot": snapshot.id[:12], "version": run.model_version, "metrics": run.metrics}


def run_training(
    settings: Settings,
    training_run_id: int,
    *,
    on_epoch: Callable[[EpochMetrics, int], None] | None = None,
    on_status: Status | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> TrainingRunView:
    engine = get_engine(settings)
    run = start_attempt(engine, training_run_id)
    status = on_status or (lambda message: None)
    client = tracking.client(settings)
    if run.mlflow_run_id:
        _close_dead_attempt(client, run.mlflow_run_id)
    try:
        existing = _registered_by(settings, run)
        if existing is not None:  # a previous attempt registered and then died before recording it
            finish(engine, run.id, "succeeded", model_version=existing)
            return get_training_run(engine, run.id)
        status("snapshot")
        snapshot = build_snapshot(settings, run.dataset)
        update_training_run(engine, run.id, snapshot_id=snapshot.id)
        outcome = _train_and_log(settings, run, snapshot, client, on_epoch, status, checkpoint)
    except BaseException as error:
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        finish(engine, run.id, "failed", message)
        raise
    finish(engine, run.id, "succeeded", model_version=outcome["version"], metrics=outcome["metrics"])
    if run.params.get("retrain"):
        from harvest.train.retrain import decide

        decide(settings, run.model_name, outcome["version"], snapshot)
    return get_training_run(engine, run.id)


def _close_dead_attempt(client: Any, mlflow_run_id: str) -> None:
    try:
        if client.get_run(mlflow_run_id).info.status == "RUNNING":
            client.set_tag(mlflow_run_id, "harvest.note", "attempt interrupted; retried in a new run")
            client.set_terminated(mlflow_run_id, status="KILLED")
    except Exception as error:  # the run never made it into MLflow
        logger.debug("no MLflow run %s to close: %s", mlflow_run_id, error)


def _registered_by(settings: Settings, run: TrainingRunView) -> int | None:
    from harvest.errors import NotFoundError
    from harvest.train.registry import versions_with_tag

    try:
        found = [
            v for v in versions_with_tag(settings, TRAINING_RUN_TAG, str(run.id)) if v.name == run.model_name
        ]
    except NotFoundError:
        return None
    return max((v.version for v in found), default=None)


@dataclass
class _Data:
    classes: list[str]
    task: str
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    texts: dict[str, list[str]]


def _prepare(table: Any, task: str, dataset: str, snapshot_id: str) -> _Data:
    labels = table.column("labels").to_pylist()
    splits = table.column("split").to_pylist()
    classes = sorted({name for names in labels for name in names})
    if task == "classify" and len(classes) < 2:
        only = f" ({classes[0]!r})" if classes else ""
        raise InvalidInputError(
            f"dataset {dataset!r} has a single label{only} in snapshot {snapshot_id[:12]}; a classifier "
            "needs at least two labels"
        )
    if task == "multilabel" and (not classes or all(names == labels[0] for names in labels)):
        raise InvalidInputError(
            f"dataset {dataset!r}: every document has the same labels in snapshot {snapshot_id[:12]}; "
            "nothing to learn"
        )
    vectors = np.asarray(table.column("vector").to_pylist(), dtype=np.float32)
    y_all = targets(labels, classes, task)
    texts = table.column("text").to_pylist()
    titles = table.column("title").to_pylist()
    data = _Data(classes, task, {}, {}, {})
    for split in ("train", "validation", "test"):
        idx = [i for i, s in enumerate(splits) if s == split]
        data.x[split] = vectors[idx] if idx else np.zeros((0, vectors.shape[1]), dtype=np.float32)
        data.y[split] = y_all[idx]
        data.texts[split] = [f"{titles[i] or ''}\n\n{texts[i]}".strip() for i in idx]
    if len(data.x["train"]) == 0:
        raise InvalidInputError(f"dataset {dataset!r} has no documents in its train split")
    return data


def _config(settings: Settings, params: dict[str, Any]) -> TrainConfig:
    finetune = bool(params.get("finetune"))
    return TrainConfig(
        epochs=int(
            params.get("epochs") or (settings.train_finetune_epochs if finetune else settings.train_epochs)
        ),
        patience=int(params.get("patience") or settings.train_patience),
        batch_size=int(params.get("batch_size") or settings.train_batch_size),
        learning_rate=float(params.get("learning_rate") or settings.train_learning_rate),
        seed=int(params["seed"]) if params.get("seed") is not None else settings.train_seed,
    )


def _train_and_log(
    settings: Settings,
    run: TrainingRunView,
    snapshot: SnapshotView,
    client: Any,
    on_epoch: Callable[[EpochMetrics, int], None] | None,
    status: Status,
    checkpoint: Callable[[], None] | None,
) -> dict[str, Any]:
    import mlflow

    engine = get_engine(settings)
    config = _config(settings, run.params)
    kind = "finetune" if run.params.get("finetune") else "head"
    experiment = tracking.experiment_id(settings, run.model_name)
    with tempfile.TemporaryDirectory(prefix="harvest-train-") as tmp:
        workdir = Path(tmp)
        table = load_snapshot(settings, snapshot, workdir)
        data = _prepare(table, run_task(snapshot), run.dataset, snapshot.id)
        tags = {
            "harvest.dataset": run.dataset,
            "harvest.snapshot_id": snapshot.id,
            "harvest.embedding_model": snapshot.embedding_model,
            "harvest.task": data.task,
            "harvest.kind": kind,
            TRAINING_RUN_TAG: str(run.id),
        }
        with mlflow.start_run(
            experiment_id=experiment, run_name=f"{run.model_name}-{run.id}", tags=tags
        ) as active:
            mlflow_run_id = active.info.run_id
            update_training_run(engine, run.id, mlflow_run_id=mlflow_run_id)
            mlflow.log_params(
                {
                    **asdict(config),
                    "kind": kind,
                    "dataset": run.dataset,
                    "snapshot_id": snapshot.id,
                    "embedding_model": snapshot.embedding_model,
                    "task": data.task,
                    "classes": len(data.classes),
                    "train_rows": len(data.x["train"]),
                    "validation_rows": len(data.x["validation"]),
                    "test_rows": len(data.x["test"]),
                }
            )
            _log_snapshot_input(settings, snapshot)

            def epoch_done(metrics: EpochMetrics) -> None:
                # kept and logged in one batch after training: a database round trip per epoch would
                # dominate the training time of a small head
                if on_epoch is not None:
                    on_epoch(metrics, config.epochs)

            status("training")
            started = time.perf_counter()
            device = "cpu"
            if kind == "head":
                result = train_head(
                    data.x["train"],
                    data.y["train"],
                    data.x["validation"],
                    data.y["validation"],
                    data.classes,
                    data.task,
                    config,
                    on_epoch=epoch_done,
                    checkpoint=checkpoint,
                )
            else:
                from harvest.model_files import model_dir
                from harvest.train.finetune import train_finetune

                result, device = train_finetune(
                    model_dir(snapshot.embedding_model),
                    data.texts["train"],
                    data.y["train"],
                    data.texts["validation"],
                    data.y["validation"],
                    data.classes,
                    data.task,
                    config,
                    on_epoch=epoch_done,
                    checkpoint=checkpoint,
                )
            seconds = time.perf_counter() - started
            mlflow.set_tag("harvest.device", device)
            _log_history(mlflow_run_id, result)
            status("evaluating")
            metrics = _evaluate(result, data, kind, device)
            metrics |= {
                "train_seconds": seconds,
                "best_epoch": float(result.best_epoch),
                "best_val_macro_f1": max((m.val_macro_f1 for m in result.history), default=0.0),
            }
            mlflow.log_metrics(metrics)
            status("logging the model")
            model_uri = _log_model(result, data, kind, snapshot, workdir, device)
            if checkpoint is not None:
                checkpoint()
            status("registering")
            version = _register(settings, run, model_uri, tags | {"harvest.labels": json.dumps(data.classes)})
            mlflow.set_tag("harvest.model_version", str(version))
    return {"version": version, "metrics": metrics}


def run_task(snapshot: SnapshotView) -> str:
    return str(snapshot.manifest.get("definition", {}).get("task", "classify"))


def _evaluate(result: TrainResult, data: _Data, kind: str, device: str) -> dict[str, float]:
    import mlflow

    split = "test" if len(data.x["test"]) else "validation"
    if kind == "head":
        probabilities = predict_proba(result.model, data.x[split])
    else:
        probabilities = result.model.probabilities(data.texts[split], device)  # type: ignore[operator]
    y_true = data.y[split]
    if len(y_true) == 0:
        return {"test_macro_f1": 0.0, "test_accuracy": 0.0, "test_rows": 0.0}
    predicted = predict_labels(probabilities, data.task)
    f1 = macro_f1(y_true, predicted, len(data.classes), data.task)
    accuracy = float(
        np.mean(np.all(predicted == y_true, axis=-1) if data.task == "multilabel" else predicted == y_true)
    )
    details = report(y_true, predicted, data.classes, data.task)
    mlflow.log_dict(details, "classification_report.json")
    mlflow.log_text(_report_text(details), "classification_report.txt")
    figure = confusion_figure(y_true, predicted, data.classes, data.task)
    mlflow.log_figure(figure, "confusion_matrix.png")
    import matplotlib.pyplot as plt

    plt.close(figure)
    if split != "test":
        mlflow.set_tag("harvest.note", "the test split is empty: test metrics are on the validation split")
    return {"test_macro_f1": f1, "test_accuracy": accuracy, "test_rows": float(len(y_true))}


def _report_text(details: dict[str, Any]) -> str:
    lines = [f"{'label':<30} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}"]
    for label, values in details.items():
        if isinstance(values, dict):
            lines.append(
                f"{label[:30]:<30} {values.get('precision', 0):>9.3f} {values.get('recall', 0):>9.3f} "
                f"{values.get('f1-score', 0):>9.3f} {int(values.get('support', 0)):>9}"
            )
        else:
            lines.append(f"{label:<30} {values:>9.3f}")
    return "\n".join(lines) + "\n"


def _log_model(
    result: TrainResult, data: _Data, kind: str, snapshot: SnapshotView, workdir: Path, device: str
) -> str:
    import mlflow
    from mlflow.models import infer_signature

    metadata = {
        "labels": data.classes,
        "task": data.task,
        "embedding_model": snapshot.embedding_model,
        "snapshot_id": snapshot.id,
        "kind": kind,
    }
    if kind == "head":
        import mlflow.pytorch
        import torch

        example = data.x["train"][:2]
        signature = infer_signature(example, predict_proba(result.model, example))
        info = mlflow.pytorch.log_model(
            result.model,
            name="model",
            signature=signature,
            input_example=example,
            pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "numpy"],
            serialization_format="pt2",  # a graph, not a pickle: loading runs no code
            metadata=metadata,
        )
        return str(info.model_uri)
    from harvest.train.finetune import pyfunc_model, save_finetuned

    directory = save_finetuned(result.model, data.classes, workdir / "finetuned")  # type: ignore[arg-type]
    texts = [text[:2000] for text in data.texts["train"][:2]]
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=pyfunc_model(),
        input_example=texts,
        artifacts={"model": str(directory)},
        pip_requirements=["torch", "sentence-transformers"],
        metadata=metadata,
    )
    return str(info.model_uri)


def _register(settings: Settings, run: TrainingRunView, model_uri: str, tags: dict[str, str]) -> int:
    """Register the logged model as a new version; on any failure after creation, delete it again."""
    client = tracking.client(settings)
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(run.model_name, tags={"harvest.dataset": run.dataset})
    except MlflowException as error:
        if getattr(error, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            raise
    existing = _registered_by(settings, run)
    if existing is not None:
        return existing
    import mlflow

    version = mlflow.active_run()
    mv = client.create_model_version(
        run.model_name, source=model_uri, run_id=version.info.run_id if version else None, tags=tags
    )
    try:
        update_training_run(get_engine(settings), run.id, model_version=int(mv.version))
    except BaseException:
        client.delete_model_version(run.model_name, mv.version)
        raise
    return int(mv.version)


def _log_snapshot_input(settings: Settings, snapshot: SnapshotView) -> None:
    """The snapshot as the run's MLflow dataset input: its ObjectStore URI, content digest and row counts."""
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.types.schema import ColSpec, Schema

    with warnings.catch_warnings():  # MLflow registers two local-file source classes and warns about it
        warnings.simplefilter("ignore")
        source = resolve_dataset_source(tracking.object_uri(settings, snapshot.object_key))
    schema = Schema(
        [
            ColSpec("long", "document_id"),
            ColSpec("string", "url"),
            ColSpec("string", "text"),
            ColSpec("string", "label"),
            ColSpec("string", "split"),
        ]
    )
    dataset = MetaDataset(  # type: ignore[abstract]  # MLflow's own concrete class
        source=source, name=snapshot.dataset, digest=snapshot.id[:32], schema=schema
    )
    mlflow.log_input(
        dataset, context="training", tags={"snapshot_id": snapshot.id, "rows": str(snapshot.rows)}
    )


def _log_history(mlflow_run_id: str, result: TrainResult) -> None:
    """Every epoch's metrics, one MLflow call (steps are epochs)."""
    from mlflow.entities import Metric

    client = tracking.current_client()
    now = int(time.time() * 1000)
    metrics = [Metric(key, value, now, m.epoch) for m in result.history for key, value in m.as_dict().items()]
    for start in range(0, len(metrics), 1000):
        client.log_batch(mlflow_run_id, metrics=metrics[start : start + 1000], synchronous=True)
