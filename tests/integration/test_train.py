"""Training on the demo corpus (real stages, real MLflow on the embedded PostgreSQL): datasets, snapshots,
MLflow runs and the registry, inference over the API and CLI, lineage both ways, retraining, bad input, and
a worker killed mid-training."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from harvest.api.app import create_app
from harvest.db.engine import get_engine
from harvest.errors import InvalidInputError
from harvest.settings import Settings, settings_env
from harvest.train.datasets import create_dataset
from harvest.train.registry import get_model, promote
from harvest.train.snapshots import build_snapshot
from harvest.train.trainer import TrainOptions, train
from tests.conftest import make_settings, run_cli
from tests.demo_corpus import demo_corpus

pytestmark = pytest.mark.slow

PAGE_KIND = r"^https?://[^/]+/(?P<label>articles|section)/"
AUTH = {"Authorization": "Bearer change-me"}


@pytest.fixture(scope="module")
def corpus(db_settings: Settings) -> Iterator[Settings]:
    with demo_corpus(
        db_settings,
        train_epochs=40,
        job_retry_wait_s=0.5,
    ) as (settings, _site):
        create_dataset(
            get_engine(settings), "kinds", sources=["demo"], rule={"kind": "url", "pattern": PAGE_KIND}
        )
        yield settings


@pytest.fixture(scope="module")
def trained(corpus: Settings) -> tuple[int, int]:
    first = train(corpus, "kinds", TrainOptions(seed=7))
    second = train(corpus, "kinds", TrainOptions(seed=7))
    assert first.status == second.status == "succeeded", (first.message, second.message)
    return first.id, second.id


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=settings_env(settings))


def test_snapshot_id_is_a_content_hash(corpus: Settings) -> None:
    first = build_snapshot(corpus, "kinds")
    again = build_snapshot(corpus, "kinds")
    assert again.id == first.id and again.reused and first.rows >= 20
    assert set(first.manifest["label_distribution"]["train"]) <= {"articles", "section"}
    engine = get_engine(corpus)
    with engine.begin() as conn:  # a page that changed and was processed again
        doc = conn.execute(
            text("SELECT id, text, text_hash FROM documents WHERE url LIKE '%/articles/%' LIMIT 1")
        ).one()
        conn.execute(text("UPDATE documents SET text_hash = md5(text_hash) WHERE id = :id"), {"id": doc.id})
    try:
        changed = build_snapshot(corpus, "kinds")
        assert changed.id != first.id and not changed.reused
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE documents SET text_hash = :h WHERE id = :id"), {"h": doc.text_hash, "id": doc.id}
            )
    assert build_snapshot(corpus, "kinds").id == first.id


def test_training_is_tracked_registered_and_deterministic(corpus: Settings, trained: tuple[int, int]) -> None:
    from harvest.train.runs import get_training_run
    from harvest.train.tracking import client

    engine = get_engine(corpus)
    first, second = (get_training_run(engine, i) for i in trained)
    assert (first.model_version, second.model_version) == (1, 2)
    for key in ("test_macro_f1", "best_val_macro_f1", "best_epoch"):
        assert first.metrics[key] == second.metrics[key]
    mlflow = client(corpus)
    run = mlflow.get_run(first.mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["snapshot_id"] == first.snapshot_id
    assert len(mlflow.get_metric_history(first.mlflow_run_id, "val_macro_f1")) >= 1
    artifacts = {a.path for a in mlflow.list_artifacts(first.mlflow_run_id)}
    assert {"confusion_matrix.png", "classification_report.json"} <= artifacts
    assert run.inputs.dataset_inputs[0].dataset.name == "kinds"
    model, versions = get_model(corpus, "kinds")
    assert model.production is None and [v.version for v in versions] == [2, 1]


def test_predict_promote_rollback_over_the_api_and_cli(corpus: Settings, trained: tuple[int, int]) -> None:
    api = TestClient(create_app(corpus))
    answer = api.post("/api/models/kinds/predict", json={"texts": ["hello"]}, headers=AUTH)
    assert answer.status_code == 409 and "no production version" in answer.json()["error"]["message"]
    promote(corpus, "kinds", 1)
    texts = ["Wind turbines at sea: Acme Corporation builds a farm off the coast.", "Energy"]
    answer = api.post("/api/models/kinds/predict", json={"texts": texts}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == 1 and len(body["predictions"]) == 2
    assert set(body["predictions"][0]["probabilities"]) == {"articles", "section"}
    assert api.post("/api/models/kinds/promote", json={"version": 2}, headers=AUTH).status_code == 200
    with get_engine(corpus).connect() as conn:
        doc_ids = list(
            conn.execute(
                text("SELECT id FROM documents WHERE url LIKE '%/articles/%' ORDER BY id LIMIT 3")
            ).scalars()
        )
    answer = api.post("/api/models/kinds/predict", json={"document_ids": doc_ids}, headers=AUTH)
    assert answer.json()["model_version"] == 2  # the alias moved: reloaded without a restart
    assert [p["document_id"] for p in answer.json()["predictions"]] == doc_ids
    assert api.post("/api/models/kinds/rollback", headers=AUTH).json()["version"] == 1
    listed = api.get("/api/models", headers=AUTH).json()
    assert listed["items"][0]["production"] == 1 and listed["total"] == 1
    done = cli(corpus, "predict", "kinds", "A long article about solar farms and grazing sheep.", "--json")
    assert done.returncode == 0, done.stderr
    assert '"model_version": 1' in done.stdout
    shown = cli(corpus, "models", "show", "kinds")
    assert shown.returncode == 0 and "production = 1" in shown.stdout


def test_predict_stage_lineage_both_ways_and_search_filter(
    corpus: Settings, trained: tuple[int, int]
) -> None:
    from harvest.search.engine import Searcher
    from harvest.search.request import Filters, SearchRequest
    from harvest.train.predictions import predict_source

    promote(corpus, "kinds", 1)
    report = predict_source(corpus, "kinds", "demo")
    assert report.predicted >= 20 and predict_source(corpus, "kinds", "demo").predicted == 0  # incremental
    api = TestClient(create_app(corpus))
    lineage = api.get("/api/lineage/models/kinds/1", headers=AUTH).json()
    assert (
        lineage["run"]["status"] == "FINISHED" and lineage["documents_total"] == lineage["snapshot"]["rows"]
    )
    document = lineage["documents"][0]
    assert len(document["content_hash"]) == 64 and document["page_version"] >= 1
    back = api.get(f"/api/lineage/documents/{document['document_id']}", headers=AUTH).json()
    versions = {(v["name"], v["version"]) for s in back["snapshots"] for v in s["model_versions"]}
    assert {("kinds", 1), ("kinds", 2)} <= versions
    prediction_id = back["predictions"][0]["id"]
    chain = api.get(f"/api/lineage/predictions/{prediction_id}", headers=AUTH).json()
    assert chain["snapshot"]["id"] == lineage["snapshot"]["id"]
    hits = (
        Searcher(corpus).search(SearchRequest("energy", filters=Filters(predicted=("kinds=articles",)))).hits
    )
    assert hits and all("/articles/" in hit.url for hit in hits)
    out = cli(corpus, "lineage", "document", str(document["document_id"]))
    assert out.returncode == 0 and "kinds v1" in out.stdout


def test_retraining_records_its_decision(corpus: Settings, trained: tuple[int, int]) -> None:
    from datetime import UTC, datetime

    from harvest.train.retrain import due_schedules, list_decisions, set_schedule

    promote(corpus, "kinds", 1)
    set_schedule(corpus, "kinds", "kinds", "* * * * *", margin=0.5)
    now = datetime.now(UTC)
    assert due_schedules(corpus, now) == [("kinds", "kinds", {})] and due_schedules(corpus, now) == []
    set_schedule(corpus, "kinds", "kinds", "0 3 * * *", margin=0.5)
    run = train(corpus, "kinds", TrainOptions(model_name="kinds", retrain=True, seed=7))
    decision = list_decisions(corpus, "kinds")[0]
    assert decision["challenger_version"] == run.model_version and decision["champion_version"] == 1
    assert not decision["promoted"] and decision["champion_score"] is not None  # needs +0.5 macro-F1
    assert get_model(corpus, "kinds")[0].production == 1


def test_bad_input_is_one_line_and_a_4xx(corpus: Settings, trained: tuple[int, int]) -> None:
    api = TestClient(create_app(corpus))
    for args, words in [
        (("train", "nope"), "no dataset named 'nope'"),
        (("dataset", "create", "x", "-s", "demo", "--label-url", "/nowhere/(?P<label>x)"), "matches none"),
    ]:
        done = cli(corpus, *args)
        assert done.returncode != 0 and words in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    create_dataset(
        get_engine(corpus), "one", sources=["demo"], rule={"kind": "url", "pattern": r"/(?P<label>articles)/"}
    )
    answer = api.post("/api/train", json={"dataset": "one"}, headers=AUTH)
    assert answer.status_code == 202  # queued: the worker finds the single label
    with pytest.raises(InvalidInputError, match="single label"):
        train(corpus, "one", TrainOptions())
    assert api.get("/api/models/kinds/versions/99", headers=AUTH).status_code == 404
    assert api.post("/api/models/kinds/promote", json={"version": 99}, headers=AUTH).status_code == 404
    assert api.post("/api/train", json={"dataset": "nope"}, headers=AUTH).status_code == 404
    assert api.get("/api/models/nope", headers=AUTH).status_code == 404
    assert api.post("/api/models/nope/predict", json={"texts": ["x"]}, headers=AUTH).status_code == 404
    answer = api.post(
        "/api/datasets",
        json={"name": "empty", "sources": ["demo"], "label_rule": {"kind": "url", "pattern": "("}},
        headers=AUTH,
    )
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_input"
    versions_before = len(get_model(corpus, "kinds")[1])
    engine = get_engine(corpus)
    with engine.begin() as conn:  # another embedding model becomes the active one
        conn.execute(text("UPDATE embedding_models SET active = false"))
        conn.execute(
            text("INSERT INTO embedding_models (name, dimension, active) VALUES ('other-model', 8, true)")
        )
    try:
        promote(corpus, "kinds", 1)
        answer = api.post("/api/models/kinds/predict", json={"texts": ["x"]}, headers=AUTH)
        assert answer.status_code == 409 and "other-model" in answer.json()["error"]["message"]
        failed = cli(corpus, "train", "kinds")
        assert failed.returncode != 0 and "vectors" in failed.stderr
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM embedding_models WHERE name = 'other-model'"))
            conn.execute(text("UPDATE embedding_models SET active = true"))
    assert len(get_model(corpus, "kinds")[1]) == versions_before  # nothing half-registered


def test_old_models_spelling_still_switches_embedding_models(corpus: Settings) -> None:
    listed = cli(corpus, "embedding-models", "list")
    assert listed.returncode == 0 and "all-MiniLM-L6-v2" in listed.stdout
    done = cli(corpus, "models", "activate", "sentence-transformers/all-MiniLM-L6-v2")
    assert (
        done.returncode == 0 and "active model" in done.stdout and "embedding-models activate" in done.stderr
    )


@pytest.mark.timeout(900)  # two workers' starts, a fine-tuning run killed and one retried, on 2 CPU cores
def test_a_worker_killed_mid_training_registers_exactly_one_version(corpus: Settings) -> None:
    from harvest.train.queueing import queue_training
    from harvest.train.registry import versions_with_tag
    from harvest.train.runs import get_training_run

    settings = make_settings(**corpus.model_dump() | {"worker_heartbeat_s": 0.5, "worker_stalled_after_s": 3})
    run_id = queue_training(settings, "kinds", TrainOptions(model_name="killed", finetune=True, epochs=1))
    engine = get_engine(settings)

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "harvest", "worker", "-c", "1"],
            env=settings_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    worker = start_worker()
    try:
        deadline = time.monotonic() + 120
        while get_training_run(engine, run_id).mlflow_run_id is None:  # training has started
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        with pytest.raises(Exception, match="no registered model"):
            get_model(settings, "killed")
        worker = start_worker()
        deadline = time.monotonic() + 240
        while not get_training_run(engine, run_id).done:
            assert time.monotonic() < deadline, "the retried training did not finish"
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    run = get_training_run(engine, run_id)
    assert run.status == "succeeded" and run.attempts == 2, run.message
    assert [v.version for v in versions_with_tag(settings, "harvest.training_run", str(run_id))] == [1]


def test_a_source_opts_into_train_and_predict_stages(corpus: Settings, trained: tuple[int, int]) -> None:
    from harvest.jobs.pipeline import cancel_pipeline, start_pipeline
    from harvest.jobs.stages import STAGE_FUNCTIONS, Progress
    from harvest.train.queueing import add_stage

    add_stage(corpus, "demo", "predict", "kinds")
    add_stage(corpus, "demo", "train", "kinds")
    view = start_pipeline(corpus, "demo")
    try:
        assert [s.stage for s in view.stages] == ["crawl", "process", "entities", "embed", "train", "predict"]
    finally:
        cancel_pipeline(corpus, view.id)
    promote(corpus, "kinds", 1)
    trained_counts = STAGE_FUNCTIONS["train"](corpus, "demo", Progress(corpus, view.id, "train", None))
    assert trained_counts["kinds"]["unchanged"]  # same snapshot as the last training: no new version
    predicted = STAGE_FUNCTIONS["predict"](corpus, "demo", Progress(corpus, view.id, "predict", None))
    assert predicted["kinds"]["version"] == 1


@pytest.mark.gpu
def test_finetune_runs_on_cuda_with_mixed_precision(corpus: Settings) -> None:
    from harvest.train.tracking import client

    run = train(corpus, "kinds", TrainOptions(model_name="kinds-gpu", finetune=True, epochs=1))
    assert run.status == "succeeded", run.message
    assert client(corpus).get_run(str(run.mlflow_run_id)).data.tags["harvest.device"] == "cuda"
