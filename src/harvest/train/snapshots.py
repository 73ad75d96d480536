"""Dataset snapshots: Parquet + manifest in the ObjectStore, named by a hash of their content.

Rows are streamed from PostgreSQL in batches and written as Parquet row groups to a temporary file while
their content is hashed (document, page version hash, text hash, labels, split, vector bytes, and the
definition and embedding model). Unchanged data gives the same id, and an id already stored is not
written again. The split of a document comes from a stable hash of its id, so it never moves.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from harvest.db.models import DatasetSnapshot, SnapshotDocument
from harvest.errors import InvalidInputError, NotFoundError
from harvest.settings import Settings
from harvest.storage import open_object_store, open_raw_store
from harvest.train.datasets import DatasetView, get_dataset
from harvest.train.labels import Labeler
from harvest.train.rows import CandidateRow, candidate_facts, document_vectors

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BATCH = 500


@dataclass(frozen=True)
class SnapshotView:
    id: str
    dataset: str
    object_key: str
    embedding_model: str
    rows: int
    manifest: dict[str, Any]
    created_at: datetime
    reused: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dataset": self.dataset,
            "object_key": self.object_key,
            "embedding_model": self.embedding_model,
            "rows": self.rows,
            "created_at": self.created_at.isoformat(),
            "reused": self.reused,
            "manifest": self.manifest,
        }


def split_of(document_id: int, splits: dict[str, float]) -> str:
    """A document's split from a stable hash of its id (the same on every run and machine)."""
    digest = hashlib.sha256(f"harvest-split:{document_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    if point < splits["train"]:
        return "train"
    if point < splits["train"] + splits["validation"]:
        return "validation"
    return "test"


def active_embedding_model(engine: Engine) -> tuple[int, str, int]:
    from harvest.embeddings.store import active_model

    with engine.connect() as conn:
        found = active_model(conn)
    if found is None:
        raise InvalidInputError("no embedding model has vectors yet; run `harvest embed` first")
    return found


def _schema(dimension: int) -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("document_id", pa.int64()),
            ("page_id", pa.int64()),
            ("page_version", pa.int32()),
            ("content_hash", pa.string()),
            ("url", pa.string()),
            ("fetched_at", pa.timestamp("us", tz="UTC")),
            ("title", pa.string()),
            ("text", pa.string()),
            ("label", pa.string()),
            ("labels", pa.list_(pa.string())),
            ("split", pa.string()),
            ("vector", pa.list_(pa.float32(), dimension)),
        ]
    )


@dataclass
class _Counts:
    candidates: int = 0
    rows: int = 0
    unlabelled: int = 0
    ambiguous: int = 0
    unembedded: int = 0


def build_snapshot(
    settings: Settings,
    dataset: str,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> SnapshotView:
    """Snapshot a dataset now; returns the stored snapshot when the content is unchanged."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from harvest.db.engine import get_engine

    engine = get_engine(settings)
    view = get_dataset(engine, dataset)
    model_id, model_name, dimension = active_embedding_model(engine)
    labeler = Labeler(view.rule, view.task)
    schema = _schema(dimension)
    hasher = hashlib.sha256()
    definition = {
        "dataset": view.name,
        "task": view.task,
        "sources": view.sources,
        "label": view.rule.to_json(),
        "splits": view.splits,
        "language": view.language,
    }
    hasher.update(json.dumps([SCHEMA_VERSION, definition, model_name], sort_keys=True).encode())
    counts = _Counts()
    distribution: dict[str, dict[str, int]] = {"train": {}, "validation": {}, "test": {}}
    with tempfile.TemporaryDirectory(prefix="harvest-snapshot-") as tmp:
        path = Path(tmp) / "data.parquet"
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for batch in _batches(candidate_facts(engine, view, batch=BATCH), BATCH):
                counts.candidates += len(batch)
                table = _batch_table(
                    settings, engine, batch, labeler, view, model_id, dimension, counts, distribution, hasher
                )
                if table is not None:
                    writer.write_table(pa.Table.from_pydict(table, schema=schema))
                if on_progress is not None:
                    on_progress(counts.candidates)
        _refuse_unusable(view, counts)
        snapshot_id = hasher.hexdigest()
        existing = get_snapshot(engine, snapshot_id, missing_ok=True)
        if existing is not None:
            logger.info("snapshot unchanged", extra={"dataset": dataset, "snapshot": snapshot_id})
            return SnapshotView(**{**existing.__dict__, "reused": True})
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "snapshot_id": snapshot_id,
            "definition": definition,
            "embedding_model": model_name,
            "dimension": dimension,
            "rows": counts.rows,
            "splits": _split_rows(path),
            "label_distribution": distribution,
            "skipped": {
                "unlabelled": counts.unlabelled,
                "ambiguous": counts.ambiguous,
                "without_vectors": counts.unembedded,
            },
            "created_at": datetime.now(UTC).isoformat(),
        }
        prefix = f"snapshots/{view.name}/{snapshot_id}"
        store = open_object_store(settings)
        store.put(f"{prefix}/data.parquet", path, content_type="application/vnd.apache.parquet")
        store.put(
            f"{prefix}/manifest.json",
            json.dumps(manifest, indent=2).encode(),
            content_type="application/json",
        )
        _record(engine, view, snapshot_id, f"{prefix}/data.parquet", model_name, counts.rows, manifest, path)
    found = get_snapshot(engine, snapshot_id)
    assert found is not None
    return found


def _batches(rows: Iterator[CandidateRow], size: int) -> Iterator[list[CandidateRow]]:
    batch: list[CandidateRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _batch_table(
    settings: Settings,
    engine: Engine,
    batch: list[CandidateRow],
    labeler: Labeler,
    view: DatasetView,
    model_id: int,
    dimension: int,
    counts: _Counts,
    distribution: dict[str, dict[str, int]],
    hasher: Any,
) -> dict[str, list[Any]] | None:
    labelled: list[tuple[CandidateRow, list[str]]] = []
    for row in batch:
        labels = labeler.labels(row.facts)
        if not labels and not labeler.keeps_empty:
            counts.unlabelled += 1
        elif view.task == "classify" and len(labels) > 1:
            counts.ambiguous += 1
        else:
            labelled.append((row, labels))
    vectors = document_vectors(engine, model_id, dimension, [row.document_id for row, _ in labelled])
    versions = _page_versions(settings, [row for row, _ in labelled])
    table: dict[str, list[Any]] = {name: [] for name in _schema(dimension).names}
    for row, labels in labelled:
        vector = vectors.get(row.document_id)
        if vector is None:
            counts.unembedded += 1
            continue
        array = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(array))
        if norm > 0:
            array = array / norm
        content_hash, fetched_at = versions[row.document_id]
        split = split_of(row.document_id, view.splits)
        label = labels[0] if labels else ""
        for name in labels:
            distribution[split][name] = distribution[split].get(name, 0) + 1
        hasher.update(
            json.dumps(
                [row.document_id, row.page_version, content_hash, row.text_hash, labels, split]
            ).encode()
        )
        hasher.update(array.tobytes())
        for name, value in (
            ("document_id", row.document_id),
            ("page_id", row.page_id),
            ("page_version", row.page_version),
            ("content_hash", content_hash),
            ("url", row.url),
            ("fetched_at", fetched_at),
            ("title", row.title),
            ("text", row.text),
            ("label", label),
            ("labels", labels),
            ("split", split),
            ("vector", array),
        ):
            table[name].append(value)
        counts.rows += 1
    return table if table["document_id"] else None


def _page_versions(settings: Settings, rows: list[CandidateRow]) -> dict[int, tuple[str, datetime | None]]:
    """Content hash and fetch time of the exact page version each document was processed from."""
    found: dict[int, tuple[str, datetime | None]] = {}
    older: list[CandidateRow] = []
    for row in rows:
        if row.page_version == row.page_latest and row.page_hash:
            found[row.document_id] = (row.page_hash, row.fetched_at)
        else:
            older.append(row)
    if older:
        with open_raw_store(settings) as raw:
            versions = raw.get_many((row.source, row.page_url, row.page_version) for row in older)
        for row in older:
            version = versions.get((row.source, row.page_url, row.page_version))
            found[row.document_id] = (
                (version.content_hash, version.fetched_at)
                if version
                else (row.page_hash or "", row.fetched_at)
            )
    return found


def _refuse_unusable(view: DatasetView, counts: _Counts) -> None:
    if counts.candidates == 0:
        raise InvalidInputError(
            f"dataset {view.name!r} is empty: {', '.join(view.sources)} has no processed documents yet "
            "(crawl and process first)"
        )
    if counts.rows == 0:
        if counts.unlabelled + counts.ambiguous == counts.candidates:
            raise InvalidInputError(
                f"dataset {view.name!r} is empty: the label rule ({view.rule.describe()}) matches none of "
                f"its {counts.candidates} documents"
            )
        raise InvalidInputError(
            f"dataset {view.name!r} is empty: none of its labelled documents has vectors for the active "
            "embedding model; run `harvest embed` first"
        )


def _split_rows(path: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    splits = pq.read_table(path, columns=["split"]).column("split").to_pylist()
    return {name: splits.count(name) for name in ("train", "validation", "test")}


def _record(
    engine: Engine,
    view: DatasetView,
    snapshot_id: str,
    key: str,
    model_name: str,
    rows: int,
    manifest: dict[str, Any],
    path: Path,
) -> None:
    """The snapshot row and its documents (for lineage), read back from the Parquet file in row groups."""
    import pyarrow.parquet as pq
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    columns = [
        "document_id",
        "page_id",
        "page_version",
        "content_hash",
        "url",
        "fetched_at",
        "split",
        "labels",
    ]
    with engine.begin() as conn:
        inserted = conn.execute(
            pg_insert(DatasetSnapshot)
            .values(
                id=snapshot_id,
                dataset_id=view.id,
                object_key=key,
                embedding_model=model_name,
                rows=rows,
                manifest=manifest,
            )
            .on_conflict_do_nothing()
            .returning(DatasetSnapshot.id)
        ).first()
        if inserted is None:
            return  # a concurrent snapshot of the same content got there first
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            records = parquet.read_row_group(group, columns=columns).to_pylist()
            conn.execute(insert(SnapshotDocument), [{"snapshot_id": snapshot_id, **r} for r in records])


def get_snapshot(engine: Engine, snapshot_id: str, *, missing_ok: bool = False) -> SnapshotView | None:
    from harvest.db.models import Dataset

    with Session(engine) as conn:
        row = conn.execute(
            select(DatasetSnapshot, Dataset.name)
            .join(Dataset, Dataset.id == DatasetSnapshot.dataset_id)
            .where(DatasetSnapshot.id == snapshot_id)
        ).first()
    if row is None:
        if missing_ok:
            return None
        raise NotFoundError(f"no snapshot {snapshot_id!r}")
    snap, name = row
    return SnapshotView(
        snap.id, name, snap.object_key, snap.embedding_model, snap.rows, dict(snap.manifest), snap.created_at
    )


def list_snapshots(engine: Engine, dataset: str) -> list[SnapshotView]:
    view = get_dataset(engine, dataset)
    with Session(engine) as conn:
        rows = (
            conn.execute(
                select(DatasetSnapshot)
                .where(DatasetSnapshot.dataset_id == view.id)
                .order_by(DatasetSnapshot.created_at.desc())
            )
            .scalars()
            .all()
        )
    return [
        SnapshotView(s.id, view.name, s.object_key, s.embedding_model, s.rows, dict(s.manifest), s.created_at)
        for s in rows
    ]


def latest_snapshot(engine: Engine, dataset: str) -> SnapshotView | None:
    found = list_snapshots(engine, dataset)
    return found[0] if found else None


def load_snapshot(settings: Settings, snapshot: SnapshotView, workdir: Path) -> Any:
    """The snapshot's Parquet table (downloaded and checksum-verified)."""
    import pyarrow.parquet as pq

    path = workdir / "data.parquet"
    open_object_store(settings).download(snapshot.object_key, path)
    return pq.read_table(path)
