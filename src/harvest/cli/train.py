"""`harvest dataset …`, `harvest train`, `harvest models …` (the registry), `harvest predict`,
`harvest lineage …`, and the `train` / `predict` pipeline stages a source can opt into."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import console, err_console, escape, print_json
from harvest.db.engine import get_engine
from harvest.errors import InvalidInputError

dataset_app = typer.Typer(help="Labelled datasets of documents, and their snapshots.", no_args_is_help=True)
models_app = typer.Typer(
    help="Trained models in the registry (MLflow): versions, the `production` alias, rollback. "
    "Embedding models: `harvest embedding-models`.",
    no_args_is_help=True,
)
lineage_app = typer.Typer(
    help="Where a model, document or prediction came from, and where it went.", no_args_is_help=True
)

JSON = typer.Option(False, "--json", help="Machine-readable output.")


# -- datasets -----------------------------------------------------------------------------------------------
def _rule(
    url: str | None, source_label: str | None, field: str | None, entity: list[str], labels_file: Path | None
) -> dict[str, Any]:
    chosen = [x for x in (url, source_label, field, entity or None, labels_file) if x]
    if len(chosen) != 1:
        raise InvalidInputError(
            "give exactly one label rule: --label-url REGEX, --label-source-key KEY, --label-field NAME, "
            "--label-entity TYPE or --labels FILE"
        )
    if url:
        return {"kind": "url", "pattern": url}
    if source_label:
        return {"kind": "source_label", "key": source_label}
    if field:
        return {"kind": "field", "key": field}
    if entity:
        return {"kind": "entity", "types": entity}
    return {"kind": "import"}


@dataset_app.command("create")
def dataset_create(
    name: str,
    source: list[str] = typer.Option(..., "--source", "-s", help="Source(s) whose documents it draws from."),
    label_url: str | None = typer.Option(
        None, "--label-url", help="Regex over the URL with a group (?P<label>…)."
    ),
    label_source_key: str | None = typer.Option(
        None, "--label-source-key", help="A key of the source's labels."
    ),
    label_field: str | None = typer.Option(None, "--label-field", help="A structured extraction field."),
    label_entity: list[str] = typer.Option([], "--label-entity", help="Entity type(s) mentioned (presence)."),
    labels: Path | None = typer.Option(None, "--labels", help="CSV/JSONL with url or document_id, label."),
    task: str = typer.Option("classify", help="classify (one label) or multilabel."),
    splits: str = typer.Option("0.7,0.15,0.15", help="train,validation,test fractions."),
    language: str | None = typer.Option(None, help="Only documents in this language (e.g. en)."),
    description: str | None = typer.Option(None),
    as_json: bool = JSON,
) -> None:
    """Define a dataset: which sources, how documents get their labels, the task and the splits."""
    from harvest.train.datasets import create_dataset, import_labels, parse_splits, preview_labels

    engine = get_engine(settings())
    rule = _rule(label_url, label_source_key, label_field, label_entity, labels)
    view = create_dataset(
        engine,
        name,
        sources=source,
        rule=rule,
        task=task,
        splits=parse_splits(splits),
        language=language,
        description=description,
    )
    if labels is not None:
        try:
            import_labels(engine, name, labels)
        except Exception:
            from harvest.train.datasets import delete_dataset

            delete_dataset(engine, name)
            raise
    preview = preview_labels(engine, view)
    if as_json:
        print_json(
            view.to_json()
            | {"documents": preview.documents, "labelled": preview.labelled, "labels": preview.distribution}
        )
        return
    console.print(
        f"dataset {escape(name)}: {preview.labelled} of {preview.documents} documents labelled by "
        f"{escape(view.rule.describe())}; labels {escape(_dist(preview.distribution))}"
    )


def _dist(distribution: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in distribution.items()) or "none yet"


@dataset_app.command("import-labels")
def dataset_import_labels(name: str, path: Path) -> None:
    """Replace a dataset's imported labels with a CSV/JSONL file (url or document_id, label)."""
    from harvest.train.datasets import import_labels

    report = import_labels(get_engine(settings()), name, path)
    console.print(
        f"imported {report.rows} rows for {report.documents} documents: {escape(_dist(report.labels))}"
    )


@dataset_app.command("list")
def dataset_list(as_json: bool = JSON) -> None:
    """Datasets with their task, sources, label rule and snapshot count."""
    from harvest.train.datasets import list_datasets

    views, _ = list_datasets(get_engine(settings()), limit=1000)
    if as_json:
        print_json([v.to_json() for v in views])
        return
    table = Table("dataset", "task", "sources", "label rule", "snapshots")
    for v in views:
        table.add_row(
            escape(v.name), v.task, escape(", ".join(v.sources)), escape(v.rule.describe()), str(v.snapshots)
        )
    console.print(table)


@dataset_app.command("show")
def dataset_show(name: str, as_json: bool = JSON) -> None:
    """A dataset's definition, what its rule labels today, and its snapshots."""
    from harvest.train.datasets import get_dataset, preview_labels
    from harvest.train.snapshots import list_snapshots

    engine = get_engine(settings())
    view = get_dataset(engine, name)
    preview = preview_labels(engine, view)
    snapshots = list_snapshots(engine, name)
    if as_json:
        print_json(
            view.to_json()
            | {
                "documents": preview.documents,
                "labelled": preview.labelled,
                "labels": preview.distribution,
                "snapshot_list": [s.to_json() for s in snapshots],
            }
        )
        return
    console.print(f"[bold]{escape(view.name)}[/] ({view.task}) from {escape(', '.join(view.sources))}")
    console.print(f"labels: {escape(view.rule.describe())}; splits {view.splits}")
    console.print(
        f"today: {preview.labelled} of {preview.documents} documents labelled: "
        f"{escape(_dist(preview.distribution))}"
    )
    for snap in snapshots:
        console.print(
            f"snapshot {snap.id[:12]}  {snap.rows} rows  {snap.embedding_model}  "
            f"{snap.created_at:%Y-%m-%d %H:%M}"
        )


@dataset_app.command("snapshot")
def dataset_snapshot(name: str, as_json: bool = JSON) -> None:
    """Freeze the dataset now: Parquet + manifest in the object store (same content, same id)."""
    from harvest.train.snapshots import build_snapshot

    with Progress(
        TextColumn("snapshot"),
        MofNCompleteColumn(),
        TextColumn("documents read"),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("snapshot", total=None)
        snap = build_snapshot(settings(), name, on_progress=lambda n: bar.update(task, completed=n))
    if as_json:
        print_json(snap.to_json())
        return
    state = "unchanged, reused" if snap.reused else "written"
    splits = snap.manifest.get("splits", {})
    console.print(
        f"snapshot {snap.id} ({state}): {snap.rows} documents "
        f"(train {splits.get('train', 0)}, validation {splits.get('validation', 0)}, test "
        f"{splits.get('test', 0)}), "
        f"vectors of {escape(snap.embedding_model)}, at {escape(snap.object_key)}"
    )


# -- training ----------------------------------------------------------------------------------------------
def train(
    dataset: str,
    model: str | None = typer.Option(
        None, "--model", "-m", help="Registered model name (default: the dataset's)."
    ),
    epochs: int | None = typer.Option(
        None, min=1, max=10_000, help="Most epochs (default HARVEST_TRAIN_EPOCHS)."
    ),
    finetune: bool = typer.Option(
        False, "--finetune", help="Train the encoder too (CUDA mixed precision if present)."
    ),
    seed: int | None = typer.Option(None, min=0, help="Random seed (default HARVEST_TRAIN_SEED)."),
    queue: bool = typer.Option(False, "--queue", help="Queue it for a worker instead of training here."),
    as_json: bool = JSON,
) -> None:
    """Snapshot the dataset, train a classifier, log the run to MLflow and register a new model version."""
    from harvest.train.trainer import TrainOptions
    from harvest.train.trainer import train as run_train

    options = TrainOptions(model_name=model, epochs=epochs, finetune=finetune, seed=seed)
    current = settings()
    if queue:
        from harvest.train.queueing import queue_training

        run_id = queue_training(current, dataset, options, trigger="cli")
        console.print(f"training run {run_id} queued; follow it with `harvest models runs`")
        return
    with Progress(
        TextColumn("{task.fields[stage]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[metrics]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("train", total=None, stage="snapshot", metrics="")

        def on_epoch(metrics: Any, total: int) -> None:
            bar.update(
                task,
                completed=metrics.epoch,
                total=total,
                stage="epoch",
                metrics=f"loss {metrics.train_loss:.3f} · val F1 {metrics.val_macro_f1:.3f}",
            )

        run = run_train(
            current,
            dataset,
            options,
            on_epoch=on_epoch,
            on_status=lambda stage: bar.update(task, stage=stage),
        )
    if as_json:
        print_json(run.to_json())
        return
    metrics = run.metrics
    console.print(
        f"{escape(run.model_name)} version {run.model_version} registered: test macro-F1 "
        f"{metrics.get('test_macro_f1', 0):.3f}, accuracy {metrics.get('test_accuracy', 0):.3f}, best epoch "
        f"{int(metrics.get('best_epoch', 0))}, {metrics.get('train_seconds', 0):.1f}s "
        f"(snapshot {str(run.snapshot_id)[:12]}, MLflow run {run.mlflow_run_id})"
    )
    console.print(f"promote it: harvest models promote {escape(run.model_name)} {run.model_version}")


# -- the registry ------------------------------------------------------------------------------------------
@models_app.command("list")
def models_list(as_json: bool = JSON) -> None:
    """Registered models: versions, the one behind `production`, the latest."""
    from harvest.train.registry import list_models

    models = list_models(settings())
    if as_json:
        print_json([m.to_json() for m in models])
        return
    table = Table("model", "versions", "production", "latest", "updated")
    for m in models:
        table.add_row(
            escape(m.name),
            str(m.versions),
            str(m.production or "-"),
            str(m.latest or "-"),
            f"{m.updated_at:%Y-%m-%d %H:%M}" if m.updated_at else "",
        )
    console.print(table)
    if not models:
        console.print("no registered models yet: `harvest train DATASET` registers one")
    console.print("[dim]embedding models: harvest embedding-models list[/]")


@models_app.command("show")
def models_show(name: str, as_json: bool = JSON) -> None:
    """A model's versions with their metrics, dataset, snapshot and aliases."""
    from harvest.train.registry import get_model

    model, versions = get_model(settings(), name)
    if as_json:
        print_json(model.to_json() | {"version_list": [v.to_json() for v in versions]})
        return
    console.print(f"[bold]{escape(name)}[/]: production = {model.production or 'none'}")
    table = Table(
        "version", "aliases", "test F1", "dataset", "snapshot", "kind", "embedding model", "created"
    )
    for v in versions:
        table.add_row(
            str(v.version),
            ", ".join(v.aliases),
            f"{v.metrics.get('test_macro_f1', 0):.3f}",
            escape(v.dataset or ""),
            (v.snapshot_id or "")[:12],
            v.kind,
            escape(v.embedding_model or ""),
            f"{v.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@models_app.command("promote")
def models_promote(name: str, version: int) -> None:
    """Point `production` at VERSION (the API serves it from the next request)."""
    from harvest.train.registry import promote

    view = promote(settings(), name, version)
    console.print(f"{escape(name)}: production → version {view.version}")


@models_app.command("rollback")
def models_rollback(name: str) -> None:
    """Move `production` back to the version promoted before the current one."""
    from harvest.train.registry import rollback

    view = rollback(settings(), name)
    console.print(f"{escape(name)}: production rolled back to version {view.version}")


@models_app.command("runs")
def models_runs(
    model: str | None = typer.Argument(None),
    limit: int = typer.Option(20, min=1, max=1000),
    as_json: bool = JSON,
) -> None:
    """Training runs (CLI, API, pipeline, schedule) and how they ended."""
    from harvest.train.runs import list_training_runs

    runs, _ = list_training_runs(get_engine(settings()), model_name=model, limit=limit)
    if as_json:
        print_json([r.to_json() for r in runs])
        return
    table = Table("run", "model", "dataset", "status", "trigger", "version", "test F1", "message")
    for r in runs:
        table.add_row(
            str(r.id),
            escape(r.model_name),
            escape(r.dataset),
            r.status,
            r.trigger,
            str(r.model_version or ""),
            f"{r.metrics['test_macro_f1']:.3f}" if "test_macro_f1" in r.metrics else "",
            escape(r.message or ""),
        )
    console.print(table)


@models_app.command("schedule")
def models_schedule(
    name: str,
    dataset: str | None = typer.Option(
        None, help="Dataset to retrain on (required when setting a schedule)."
    ),
    cron: str | None = typer.Option(None, help="Cron expression, e.g. '0 3 * * 1'."),
    margin: float | None = typer.Option(
        None, help="Macro-F1 a challenger must gain (default HARVEST_RETRAIN_MARGIN)."
    ),
    remove: bool = typer.Option(False, "--remove", help="Remove the schedule."),
    as_json: bool = JSON,
) -> None:
    """Retrain NAME on a schedule: a challenger replaces production only if better by the margin."""
    from harvest.train.retrain import list_decisions, list_schedules, remove_schedule, set_schedule

    current = settings()
    if remove:
        remove_schedule(current, name)
        console.print(f"{escape(name)}: retrain schedule removed")
        return
    if cron is not None:
        if dataset is None:
            raise InvalidInputError("--dataset is required with --cron")
        set_schedule(current, name, dataset, cron, margin)
    schedules = [s for s in list_schedules(current) if s["model"] == name]
    decisions = list_decisions(current, name)
    if as_json:
        print_json({"schedule": schedules[0] if schedules else None, "decisions": decisions})
        return
    if schedules:
        s = schedules[0]
        console.print(
            f"{escape(name)}: retrain {escape(s['dataset'])} at '{s['cron']}' (next "
            f"{s['next_run_at']}), margin {s['margin']}"
        )
    else:
        console.print(f"{escape(name)}: no retrain schedule")
    for d in decisions:
        verdict = "[green]promoted[/]" if d["promoted"] else "kept production"
        console.print(
            f"{d['created_at'][:16]} v{d['challenger_version']} vs v{d['champion_version'] or '-'}: "
            f"{verdict} ({escape(d['reason'])})"
        )


@models_app.command("retrain")
def models_retrain(name: str, as_json: bool = JSON) -> None:
    """Run NAME's retraining now: snapshot, challenger, compare with production, promote if better."""
    from harvest.train.retrain import list_decisions, list_schedules
    from harvest.train.trainer import TrainOptions
    from harvest.train.trainer import train as run_train

    current = settings()
    schedule = next((s for s in list_schedules(current) if s["model"] == name), None)
    if schedule is None:
        raise InvalidInputError(
            f"model {name!r} has no retrain schedule; set one with `harvest models schedule {name} "
            "--dataset D --cron '…'`"
        )
    run_train(current, schedule["dataset"], TrainOptions(model_name=name, retrain=True), trigger="manual")
    decision = list_decisions(current, name, limit=1)[0]
    if as_json:
        print_json(decision)
        return
    verdict = "promoted" if decision["promoted"] else "kept production"
    console.print(f"v{decision['challenger_version']}: {verdict} ({escape(decision['reason'])})")


@models_app.command("tracking-uri")
def models_tracking_uri() -> None:
    """MLflow's backend store URI, for `mlflow ui --backend-store-uri "$(harvest models tracking-uri)"`."""
    from harvest.train.tracking import tracking_uri

    console.print(tracking_uri(settings()), soft_wrap=True, highlight=False, markup=False)


@models_app.command("activate", hidden=True)
def models_activate_legacy(
    name: str, force: bool = typer.Option(False, help="Activate even with missing vectors.")
) -> None:
    """Old spelling of `harvest embedding-models activate`."""
    from harvest.cli.embeddings import activate

    err_console.print("[dim]note: `harvest models activate` is now `harvest embedding-models activate`[/]")
    activate(name, force=force)


# -- predictions -------------------------------------------------------------------------------------------
def predict(
    name: str,
    text: list[str] = typer.Argument(None, help="Text(s) to label."),
    document: list[int] = typer.Option([], "--document", "-d", help="Document id(s) to label."),
    source: str | None = typer.Option(
        None, "--source", "-s", help="Label the source's new documents and store it."
    ),
    as_json: bool = JSON,
) -> None:
    """Label texts, documents or a whole source with NAME's production version."""
    from harvest.train.inference import Predictor

    current = settings()
    given = [bool(text), bool(document), source is not None]
    if sum(given) != 1:
        raise InvalidInputError("give texts, --document ID(s) or --source NAME (one of them)")
    if source is not None:
        from harvest.train.predictions import predict_source

        report = predict_source(current, name, source)
        if as_json:
            print_json(report.to_json())
            return
        console.print(
            f"{escape(name)} v{report.version}: {report.predicted} new documents of {escape(source)} "
            f"labelled: {escape(_dist(report.labels or {}))}"
        )
        return
    predictor = Predictor(current)
    outputs = (
        predictor.predict_texts(name, list(text))
        if text
        else predictor.predict_documents(name, list(document))
    )
    if as_json:
        print_json([o.to_json() for o in outputs])
        return
    inputs: list[str] = list(text) if text else [f"document {d}" for d in document]
    for item, out in zip(inputs, outputs, strict=True):
        shown = item[:60] + "…" if len(item) > 60 else item
        console.print(f"{escape(out.label)}  {out.score:.3f}  (v{out.version})  {escape(shown)}")


# -- lineage -----------------------------------------------------------------------------------------------
@lineage_app.command("model")
def lineage_model(
    name: str, version: int, limit: int = typer.Option(20, min=0, max=100_000), as_json: bool = JSON
) -> None:
    """Model version → MLflow run → snapshot → documents and their exact page versions."""
    from harvest.train.lineage import model_lineage

    data = model_lineage(settings(), name, version, limit=limit)
    if as_json:
        print_json(data)
        return
    run = data["run"] or {}
    snap = data["snapshot"] or {}
    console.print(
        f"[bold]{escape(name)} v{version}[/] ← MLflow run {run.get('run_id')} ({run.get('status')})"
    )
    console.print(
        f"  ← snapshot {snap.get('id')} of {escape(str(snap.get('dataset')))} ({snap.get('rows')} "
        f"documents, {escape(str(snap.get('embedding_model')))})"
    )
    for doc in data["documents"]:
        console.print(
            f"    ← document {doc['document_id']} {escape(doc['url'])} page v{doc['page_version']} "
            f"{doc['content_hash'][:12]} fetched {doc['fetched_at']} "
            f"[{doc['split']}: {escape(', '.join(doc['labels']))}]"
        )
    if data["documents_total"] > len(data["documents"]):
        console.print(f"    … {data['documents_total'] - len(data['documents'])} more (--limit)")


@lineage_app.command("document")
def lineage_document(document_id: int, as_json: bool = JSON) -> None:
    """Document → the snapshots that hold it (which page version) → the model versions trained on them."""
    from harvest.train.lineage import document_lineage

    data = document_lineage(settings(), document_id)
    if as_json:
        print_json(data)
        return
    doc = data["document"] or {}
    console.print(
        f"[bold]document {document_id}[/] {escape(str(doc.get('url')))} (page v{doc.get('page_version')})"
    )
    for snap in data["snapshots"]:
        versions = (
            ", ".join(
                f"{v['name']} v{v['version']}" + (" (production)" if "production" in v["aliases"] else "")
                for v in snap["model_versions"]
            )
            or "no model yet"
        )
        console.print(
            f"  → snapshot {snap['snapshot_id'][:12]} of {escape(snap['dataset'])} (page "
            f"v{snap['page_version']}, {snap['split']}) → {escape(versions)}"
        )
    for p in data["predictions"]:
        console.print(
            f"  → prediction {p['id']}: {escape(p['label'])} {p['score']:.3f} by {escape(p['model'])} "
            f"v{p['model_version']} (page v{p['page_version']})"
        )


@lineage_app.command("prediction")
def lineage_prediction(prediction_id: int, as_json: bool = JSON) -> None:
    """Prediction → its document's page version and the model version → run → snapshot."""
    from harvest.train.lineage import prediction_lineage

    data = prediction_lineage(settings(), prediction_id)
    if as_json:
        print_json(data)
        return
    p = data["prediction"]
    console.print(
        f"[bold]prediction {prediction_id}[/]: {escape(p['label'])} {p['score']:.3f} for document "
        f"{p['document_id']} {escape(p['url'])} (page v{p['page_version']})"
    )
    console.print(
        f"  ← {escape(p['model'])} v{p['model_version']} ← MLflow run "
        f"{(data['run'] or {}).get('run_id')} ← snapshot {(data['snapshot'] or {}).get('id')}"
    )


# -- optional pipeline stages ------------------------------------------------------------------------------
def add_stage(
    source: str,
    stage: str = typer.Argument(..., help="train or predict"),
    target: str = typer.Argument(..., help="Dataset (train) or model (predict)."),
) -> None:
    """Opt a source into a stage after embed: `train DATASET` or `predict MODEL`."""
    from harvest.train.queueing import add_stage as add

    add(settings(), source, stage, target)
    console.print(f"{escape(source)}: pipelines now end with {stage} {escape(target)}")


def remove_stage(source: str, stage: str, target: str) -> None:
    """Opt a source out of a `train` / `predict` stage."""
    from harvest.train.queueing import remove_stage as remove

    remove(settings(), source, stage, target)
    console.print(f"{escape(source)}: {stage} {escape(target)} removed")


def stages(source: str | None = typer.Argument(None), as_json: bool = JSON) -> None:
    """The `train` / `predict` stages sources opted into."""
    from harvest.train.queueing import list_stages

    rows = list_stages(settings(), source)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        console.print(f"{escape(row['source'])}: {row['stage']} {escape(row['target'])}")
    if not rows:
        console.print("no source has a train or predict stage")
