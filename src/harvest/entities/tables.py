"""Reading the tables to deduplicate or link into DuckDB, with the checks a user needs in one line
each: missing or empty file, the delimiter (`,`, `;` or tab), the header, the id column, outputs that
would overwrite the input or an earlier result."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harvest.errors import InvalidInputError

DELIMITERS = ",;\t"
_SAMPLE = 256 * 1024


@dataclass
class Table:
    path: Path
    name: str  # DuckDB table holding the raw text columns plus __row (0-based input order)
    columns: list[str]
    delimiter: str
    rows: int = 0


def sniff(path: Path) -> tuple[str, list[str]]:
    """The delimiter and header of a CSV file, or a one-line error."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SAMPLE)
    except FileNotFoundError as error:
        raise InvalidInputError(f"{path} does not exist") from error
    except IsADirectoryError as error:
        raise InvalidInputError(f"{path} is a directory, not a CSV file") from error
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the sample's end
            line = head[: error.start].count(b"\n") + 1
            raise InvalidInputError(
                f"{path}: line {line} is not UTF-8 text (byte {error.start}); save the file as UTF-8"
            ) from error
        text = head[: error.start].decode("utf-8-sig")
    if not text.strip():
        raise InvalidInputError(f"{path} is empty")
    lines = text.splitlines()
    header_line = next(line for line in lines if line.strip())
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: header_line.count(d) for d in DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    header = next(csv.reader([header_line], delimiter=delimiter))
    header = [h.strip() for h in header]
    if any(not h for h in header):
        raise InvalidInputError(f"{path}: column {header.index('') + 1} of the header has no name")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise InvalidInputError(f"{path}: the header names column {dupes[0]!r} twice")
    return delimiter, header


def load(con: Any, path: Path, name: str) -> Table:
    """The file as a DuckDB table of text columns, in file order (`__row`)."""
    import duckdb

    delimiter, header = sniff(path)
    escaped = str(path).replace("'", "''")
    columns_sql = "{" + ", ".join(f"'{h.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for h in header) + "}"
    try:
        con.execute(
            f"CREATE TABLE {name}_raw AS SELECT * FROM read_csv('{escaped}', delim = '{delimiter}', "
            f"header = true, columns = {columns_sql}, quote = '\"', escape = '\"', "
            "strict_mode = true, null_padding = false, encoding = 'utf-8')"
        ).fetchall()
        con.execute(f"CREATE TABLE {name} AS SELECT rowid AS __row, * FROM {name}_raw").fetchall()
        con.execute(f"DROP TABLE {name}_raw").fetchall()
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0]
        raise InvalidInputError(f"{path}: cannot read it as CSV ({first})") from error
    rows = int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
    if rows == 0:
        raise InvalidInputError(f"{path} has a header but no rows")
    return Table(path, name, header, delimiter, rows)


def check_columns(table: Table, wanted: list[str], what: str = "column") -> None:
    for column in wanted:
        if column not in table.columns:
            raise InvalidInputError(
                f"{table.path}: no {what} {column!r} (columns: {', '.join(table.columns) or 'none'})"
            )


def check_id(con: Any, table: Table, id_column: str) -> None:
    check_columns(table, [id_column], "id column")
    quoted = '"' + id_column.replace('"', '""') + '"'
    empty = con.execute(
        f"SELECT min(__row) FROM {table.name} WHERE nullif(trim({quoted}), '') IS NULL"
    ).fetchall()[0][0]
    if empty is not None:
        raise InvalidInputError(f"{table.path}, row {int(empty) + 2}, column {id_column}: the id is empty")
    dupes = con.execute(
        f"SELECT {quoted}, count(*) FROM {table.name} GROUP BY 1 HAVING count(*) > 1 LIMIT 1"
    ).fetchall()
    for dupe in dupes:
        raise InvalidInputError(
            f"{table.path}, column {id_column}: id {dupe[0]!r} is on {dupe[1]} rows (ids must be unique)"
        )


def check_outputs(inputs: list[Path], outputs: list[Path | None], force: bool) -> None:
    """An output may never be an input; an existing output is replaced only with --force."""
    resolved = {p.resolve() for p in inputs}
    seen: set[Path] = set()
    for output in outputs:
        if output is None:
            continue
        target = output.resolve()
        if target in resolved:
            raise InvalidInputError(f"{output} is an input file: choose another output name")
        if target in seen:
            raise InvalidInputError(f"{output} is given for two outputs")
        seen.add(target)
        if output.exists() and not force:
            raise InvalidInputError(f"{output} exists: pass --force to replace it")
        if not output.parent.exists():
            raise InvalidInputError(f"{output.parent} does not exist")
