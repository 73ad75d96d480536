"""Dataset definitions in PostgreSQL: create, list, show, delete, and labels imported from CSV/JSONL."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from harvest.db.models import Dataset, DatasetLabel, DatasetSnapshot, Document, Source
from harvest.errors import ConflictError, InvalidInputError, NotFoundError
from harvest.train.labels import Labeler, LabelRule, parse_rule
from harvest.train.rows import candidate_facts

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TASKS = ("classify", "multilabel")
DEFAULT_SPLITS = {"train": 0.7, "validation": 0.15, "test": 0.15}


@dataclass(frozen=True)
class DatasetView:
    id: int
    name: str
    task: str
    sources: list[str]
    rule: LabelRule
    splits: dict[str, float]
    language: str | None
    description: str | None
    created_at: datetime
    snapshots: int = 0
    imported_labels: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "task": self.task,
            "sources": self.sources,
            "label_rule": self.rule.to_json(),
            "label_rule_text": self.rule.describe(),
            "splits": self.splits,
            "language": self.language,
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "snapshots": self.snapshots,
            "imported_labels": self.imported_labels,
        }


def check_name(name: str, what: str = "dataset") -> str:
    if not NAME_PATTERN.match(name or ""):
        raise InvalidInputError(
            f"{what} name {name!r} must be 1-100 letters, digits, '.', '_' or '-' (starting with a "
            "letter/digit)"
        )
    return name


def parse_splits(value: str | dict[str, float] | None) -> dict[str, float]:
    """`0.7,0.15,0.15` (train, validation, test) or a mapping; fractions must be ≥ 0 and sum to 1."""
    if value is None:
        return dict(DEFAULT_SPLITS)
    if isinstance(value, str):
        try:
            numbers = [float(part) for part in value.split(",")]
        except ValueError:
            raise InvalidInputError(
                f"splits {value!r} must be three fractions: train,validation,test"
            ) from None
        if len(numbers) != 3:
            raise InvalidInputError(f"splits {value!r} must be three fractions: train,validation,test")
        value = dict(zip(("train", "validation", "test"), numbers, strict=True))
    splits = {k: float(value.get(k, 0.0)) for k in ("train", "validation", "test")}
    if any(v < 0 for v in splits.values()) or abs(sum(splits.values()) - 1.0) > 1e-6:
        raise InvalidInputError("split fractions must be 0 or more and add up to 1 (e.g. 0.7,0.15,0.15)")
    if splits["train"] <= 0:
        raise InvalidInputError("the train split must be larger than 0")
    return splits


def create_dataset(
    engine: Engine,
    name: str,
    *,
    sources: list[str],
    rule: dict[str, Any],
    task: str = "classify",
    splits: dict[str, float] | None = None,
    language: str | None = None,
    description: str | None = None,
) -> DatasetView:
    """Store a definition. With documents already in its sources, a rule that labels none is refused."""
    check_name(name)
    if task not in TASKS:
        raise InvalidInputError(f"task {task!r} is not one of {', '.join(TASKS)}")
    parsed = parse_rule(rule)
    Labeler(parsed, task)  # refuses rule/task combinations that cannot work
    if not sources:
        raise InvalidInputError("a dataset needs at least one source (--source NAME)")
    with engine.connect() as conn:
        known = set(conn.execute(select(Source.name).where(Source.name.in_(sources))).scalars())
    missing = [s for s in sources if s not in known]
    if missing:
        raise NotFoundError(f"no source named {missing[0]!r} (see `harvest source list`)")
    definition = {
        "sources": sorted(set(sources)),
        "label": parsed.to_json(),
        "splits": parse_splits(splits),
        "language": language,
    }
    try:
        with engine.begin() as conn:
            conn.execute(
                pg_insert(Dataset).values(
                    name=name, task=task, definition=definition, description=description
                )
            )
    except IntegrityError as error:
        raise ConflictError(
            f"a dataset named {name!r} already exists (see `harvest dataset show {name}`)"
        ) from error
    view = get_dataset(engine, name)
    if parsed.kind != "import":
        preview = preview_labels(engine, view)
        if preview.documents and not preview.labelled:
            delete_dataset(engine, name)
            raise InvalidInputError(
                f"the label rule ({parsed.describe()}) matches none of the {preview.documents} documents "
                f"of {', '.join(view.sources)}; dataset not created"
            )
    return view


@dataclass(frozen=True)
class LabelPreview:
    documents: int
    labelled: int
    distribution: dict[str, int]


def preview_labels(engine: Engine, view: DatasetView, limit: int = 100_000) -> LabelPreview:
    """How many of the dataset's documents the rule labels, and with what (no vectors, nothing written)."""
    labeler = Labeler(view.rule, view.task)
    documents = labelled = 0
    distribution: dict[str, int] = {}
    for row in candidate_facts(engine, view, batch=1000):
        documents += 1
        labels = labeler.labels(row.facts)
        if labels or labeler.keeps_empty:
            labelled += 1
            for label in labels:
                distribution[label] = distribution.get(label, 0) + 1
        if documents >= limit:
            break
    return LabelPreview(documents, labelled, dict(sorted(distribution.items())))


def _view(
    row: Dataset, snapshots: int = 0, imported: int = 0, sources: list[str] | None = None
) -> DatasetView:
    definition = row.definition or {}
    return DatasetView(
        id=row.id,
        name=row.name,
        task=row.task,
        sources=sources if sources is not None else list(definition.get("sources", [])),
        rule=parse_rule(definition.get("label", {"kind": "import"})),
        splits=parse_splits(definition.get("splits")),
        language=definition.get("language"),
        description=row.description,
        created_at=row.created_at,
        snapshots=snapshots,
        imported_labels=imported,
    )


def get_dataset(engine: Engine, name: str) -> DatasetView:
    with Session(engine) as conn:
        dataset = conn.scalar(select(Dataset).where(Dataset.name == name))
        if dataset is None:
            raise NotFoundError(f"no dataset named {name!r} (see `harvest dataset list`)")
        snapshots = conn.execute(
            select(func.count()).select_from(DatasetSnapshot).where(DatasetSnapshot.dataset_id == dataset.id)
        ).scalar_one()
        imported = conn.execute(
            select(func.count()).select_from(DatasetLabel).where(DatasetLabel.dataset_id == dataset.id)
        ).scalar_one()
        return _view(dataset, int(snapshots), int(imported))


def list_datasets(engine: Engine, limit: int = 100, offset: int = 0) -> tuple[list[DatasetView], int]:
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(Dataset)).scalar_one())
        names = list(
            conn.execute(select(Dataset.name).order_by(Dataset.name).limit(limit).offset(offset)).scalars()
        )
    return [get_dataset(engine, name) for name in names], total


def delete_dataset(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        deleted = conn.execute(delete(Dataset).where(Dataset.name == name).returning(Dataset.id)).first()
    if deleted is None:
        raise NotFoundError(f"no dataset named {name!r} (see `harvest dataset list`)")


@dataclass(frozen=True)
class ImportReport:
    rows: int
    documents: int
    labels: dict[str, int]


def import_labels(engine: Engine, name: str, path: Path) -> ImportReport:
    """Replace the dataset's imported labels with a file's (CSV with a header, or JSONL), one transaction.

    Each row names a document by `url` or `document_id` and gives a `label` (`|` separates several). A row
    naming an unknown document, or without a label, stops the import with its line number; nothing is kept.
    """
    view = get_dataset(engine, name)
    records = list(_read_label_file(path))
    if not records:
        raise InvalidInputError(f"{path} has no label rows")
    pairs: set[tuple[int, str]] = set()
    with engine.begin() as conn:
        urls = {r[1] for r in records if r[1] is not None}
        ids = {r[2] for r in records if r[2] is not None}
        by_url: dict[str, int] = {}
        if urls:
            for doc_id, url in conn.execute(
                select(Document.id, Document.url).where(Document.url.in_(urls)).order_by(Document.id)
            ):
                by_url.setdefault(url, doc_id)
        known_ids = (
            set(conn.execute(select(Document.id).where(Document.id.in_(ids))).scalars()) if ids else set()
        )
        for line, row_url, row_id, labels in records:
            resolved = (
                by_url.get(row_url) if row_url is not None else (row_id if row_id in known_ids else None)
            )
            if resolved is None:
                what = f"URL {row_url!r}" if row_url is not None else f"document id {row_id}"
                raise InvalidInputError(f"{path}:{line}: no document with {what}; nothing imported")
            for label in labels:
                pairs.add((resolved, label))
        conn.execute(delete(DatasetLabel).where(DatasetLabel.dataset_id == view.id))
        conn.execute(
            pg_insert(DatasetLabel).on_conflict_do_nothing(),
            [{"dataset_id": view.id, "document_id": d, "label": label} for d, label in sorted(pairs)],
        )
    counts: dict[str, int] = {}
    for _, label in pairs:
        counts[label] = counts.get(label, 0) + 1
    return ImportReport(len(records), len({d for d, _ in pairs}), dict(sorted(counts.items())))


def _read_label_file(path: Path) -> Iterator[tuple[int, str | None, int | None, list[str]]]:
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no file {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"cannot read {path} as UTF-8 text: {error}") from None
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for line_no, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InvalidInputError(f"{path}:{line_no}: not JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise InvalidInputError(f"{path}:{line_no}: each line must be a JSON object")
            yield _record(path, line_no, record)
        return
    reader = csv.DictReader(io.StringIO(content))
    columns = set(reader.fieldnames or ())
    if "label" not in columns or not columns & {"url", "document_id"}:
        raise InvalidInputError(f"{path}: the header needs `label` and `url` or `document_id` columns")
    for record in reader:
        yield _record(path, reader.line_num, dict(record))


def _record(path: Path, line: int, record: dict[str, Any]) -> tuple[int, str | None, int | None, list[str]]:
    url = record.get("url")
    raw_id = record.get("document_id")
    label = record.get("label", record.get("labels"))
    if isinstance(label, list):
        labels = [" ".join(str(v).split()) for v in label if str(v).strip()]
    else:
        labels = [" ".join(part.split()) for part in str(label or "").split("|") if part.strip()]
    if not labels:
        raise InvalidInputError(f"{path}:{line}: no label")
    if url:
        return line, str(url).strip(), None, labels
    try:
        return line, None, int(str(raw_id)), labels
    except ValueError:
        raise InvalidInputError(f"{path}:{line}: needs a `url` or a numeric `document_id`") from None
