"""`harvest entities dedupe`: the resolver on any CSV table, writing a cluster id per row."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from harvest.entities.resolve import Row, clusters, score_pairs
from harvest.errors import InvalidInputError


@dataclass(frozen=True)
class DedupeReport:
    rows: int
    clusters: int
    pairs: int
    output: Path


def dedupe_csv(
    path: Path, fields: list[str], output: Path, *, threshold: float, cluster_column: str = "cluster_id"
) -> DedupeReport:
    """`fields[0]` is the name column; the others are compared where both rows have a value."""
    if not fields:
        raise InvalidInputError("--fields needs at least one column (the first is the name)")
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as error:
        raise InvalidInputError(f"{path} does not exist") from error
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8") from error
    reader = csv.DictReader(io.StringIO(content))
    columns = list(reader.fieldnames or [])
    missing = [f for f in fields if f not in columns]
    if missing:
        raise InvalidInputError(f"{path}: no column {missing[0]!r} (columns: {', '.join(columns) or 'none'})")
    if cluster_column in columns:
        raise InvalidInputError(f"{path} already has a {cluster_column!r} column")
    records = list(reader)
    if not records:
        raise InvalidInputError(f"{path} has no rows")
    rows = []
    for number, record in enumerate(records):
        if None in record or any(value is None for value in record.values()):
            raise InvalidInputError(f"{path}, row {number + 2}: the number of values differs from the header")
        rows.append(Row(number, record[fields[0]], {f: record[f] for f in fields[1:] if record[f]}))
    edges = score_pairs(rows, threshold)
    assignment = clusters(range(len(rows)), edges)
    # cluster ids numbered from 1 in order of first appearance, so the file reads naturally
    numbering: dict[int, int] = {}
    for key in range(len(rows)):
        numbering.setdefault(assignment[key], len(numbering) + 1)
    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*columns, cluster_column])
        writer.writeheader()
        for key, record in enumerate(records):
            writer.writerow(record | {cluster_column: numbering[assignment[key]]})
    return DedupeReport(len(rows), len(numbering), len(edges), output)
