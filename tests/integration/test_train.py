"""Training on the demo corpus: datasets, snapshots, MLflow runs and the registry, inference, lineage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harvest.db.engine import get_engine
from harvest.settings import Settings
from harvest.train.datasets import create_dataset
from harvest.train.snapshots import build_snapshot
from harvest.train.trainer import TrainOptions, train
from tests.demo_corpus import demo_corpus

pytestmark = pytest.mark.slow

PAGE_KIND = r"^https?://[^/]+/(?P<label>articles|section)/"


@pytest.fixture(scope="module")
def corpus(db_settings: Settings) -> Iterator[Settings]:
    with demo_corpus(db_settings, mlflow_database=f"{db_settings.database_name}_mlflow") as (settings, _site):
        yield settings


def test_dataset_snapshot_train(corpus: Settings) -> None:
    engine = get_engine(corpus)
    create_dataset(engine, "kinds", sources=["demo"], rule={"kind": "url", "pattern": PAGE_KIND})
    first = build_snapshot(corpus, "kinds")
    again = build_snapshot(corpus, "kinds")
    assert again.id == first.id and again.reused
    run = train(corpus, "kinds", TrainOptions(epochs=30))
    assert run.status == "succeeded", run.message
    assert run.model_version == 1
    print(run.metrics)
