"""The entity catalog: imported from CSV/JSONL (all or nothing), fed from per-source structured fields,
and loaded into the matcher's index."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert

from harvest.db.models import Document, Entity, EntityAlias, Source
from harvest.entities.matcher import Alias, AliasIndex, make_alias
from harvest.entities.normalize import normalize, tokens
from harvest.errors import InvalidInputError

TYPE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")
ALIAS_SEPARATOR = "|"


@dataclass
class Record:
    """One row of an import file."""

    row: int
    name: str
    external_id: str | None = None
    aliases: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    entity_type: str | None = None


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    aliases: int


def check_type(entity_type: str) -> str:
    if not TYPE_NAME.match(entity_type):
        raise InvalidInputError(
            f"entity type {entity_type!r}: use lower-case letters, digits, '_' or '-' (e.g. organization)"
        )
    return entity_type


def read_records(path: Path) -> list[Record]:
    """Records of a .csv (header row; `name`, optional `id`, `aliases` separated by '|', other columns
    become attributes) or .jsonl file (one object per line, the same keys); errors name row and column."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise InvalidInputError(f"{path} does not exist") from error
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InvalidInputError(
            f"{path}: line {line} is not UTF-8 text (byte {error.start}); save the file as UTF-8"
        ) from error
    records = _jsonl(path, content) if path.suffix.lower() in {".jsonl", ".ndjson"} else _csv(path, content)
    if not records:
        raise InvalidInputError(f"{path} has no records")
    seen: dict[str, int] = {}
    for record in records:
        if not record.name.strip():
            raise InvalidInputError(f"{path}, row {record.row}, column name: the name is empty")
        if record.external_id is not None:
            if record.external_id in seen:
                raise InvalidInputError(
                    f"{path}, row {record.row}, column id: duplicate id {record.external_id!r} "
                    f"(first on row {seen[record.external_id]})"
                )
            seen[record.external_id] = record.row
    return records


def _csv(path: Path, content: str) -> list[Record]:
    reader = csv.DictReader(io.StringIO(content))
    columns = reader.fieldnames or []
    if "name" not in columns:
        raise InvalidInputError(f"{path}: no 'name' column (columns: {', '.join(columns) or 'none'})")
    records = []
    for number, row in enumerate(reader, start=2):  # row 1 is the header
        if None in row:
            raise InvalidInputError(f"{path}, row {number}: more values than columns")
        if any(value is None for value in row.values()):
            missing = [k for k, v in row.items() if v is None]
            raise InvalidInputError(f"{path}, row {number}, column {missing[0]}: missing value")
        aliases = [a.strip() for a in (row.get("aliases") or "").split(ALIAS_SEPARATOR) if a.strip()]
        attributes = {k: v for k, v in row.items() if k not in {"name", "id", "aliases", "type"} and v != ""}
        records.append(
            Record(
                number,
                row["name"].strip(),
                (row.get("id") or "").strip() or None,
                aliases,
                attributes,
                (row.get("type") or "").strip() or None,
            )
        )
    return records


def _jsonl(path: Path, content: str) -> list[Record]:
    records = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"{path}, row {number}: not JSON ({error.msg})") from error
        if not isinstance(item, dict):
            raise InvalidInputError(f"{path}, row {number}: expected an object")
        if not isinstance(item.get("name"), str):
            raise InvalidInputError(f"{path}, row {number}, column name: missing or not text")
        aliases = item.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise InvalidInputError(f"{path}, row {number}, column aliases: expected a list of names")
        attributes = dict(item.get("attributes") or {}) | {
            k: v for k, v in item.items() if k not in {"name", "id", "aliases", "attributes", "type"}
        }
        external = item.get("id")
        records.append(
            Record(
                number,
                item["name"].strip(),
                None if external is None else str(external),
                aliases,
                attributes,
                item["type"] if isinstance(item.get("type"), str) else None,
            )
        )
    return records


def import_records(
    engine: Engine, records: list[Record], entity_type: str | None, origin: str = "import"
) -> ImportReport:
    """Upsert records as entities (of the row's `type`, else `entity_type`; by id, else by name) in one
    transaction: a bad row anywhere leaves the catalog as it was."""
    if entity_type is not None:
        check_type(entity_type)
    for record in records:
        if record.entity_type is None and entity_type is None:
            raise InvalidInputError(f"row {record.row}, column type: no type (give --type or a type column)")
        if record.entity_type is not None:
            try:
                check_type(record.entity_type)
            except InvalidInputError as error:
                raise InvalidInputError(f"row {record.row}, column type: {error.message}") from error
    created = updated = alias_count = 0
    with engine.begin() as conn:
        for record in records:
            kind = record.entity_type or entity_type
            assert kind is not None
            entity_id, is_new = _upsert_entity(conn, kind, record, origin)
            created += is_new
            updated += not is_new
            alias_count += _add_aliases(conn, entity_id, [record.name, *record.aliases])
    return ImportReport(created, updated, alias_count)


def _upsert_entity(conn: Connection, entity_type: str, record: Record, origin: str) -> tuple[int, bool]:
    if record.external_id is not None:
        existing = conn.execute(
            select(Entity.id).where(Entity.type == entity_type, Entity.external_id == record.external_id)
        ).scalar()
    else:
        existing = conn.execute(
            select(Entity.id)
            .join(EntityAlias, EntityAlias.entity_id == Entity.id)
            .where(
                Entity.type == entity_type,
                EntityAlias.normalized == normalize(record.name),
                Entity.name == record.name,
            )
            .limit(1)
        ).scalar()
    if existing is not None:
        # only a real change makes resolution compare the entity again
        conn.execute(
            update(Entity)
            .where(
                Entity.id == existing,
                (Entity.name != record.name) | (Entity.attributes != record.attributes),
            )
            .values(name=record.name, attributes=record.attributes, resolved_at=None)
        )
        return int(existing), False
    new_id = conn.execute(
        insert(Entity)
        .values(
            type=entity_type,
            name=record.name,
            external_id=record.external_id,
            attributes=record.attributes,
            origin=origin,
        )
        .returning(Entity.id)
    ).scalar_one()
    conn.execute(update(Entity).where(Entity.id == new_id).values(cluster_id=new_id))
    return int(new_id), True


def _add_aliases(conn: Connection, entity_id: int, names: list[str]) -> int:
    rows = [{"entity_id": entity_id, "alias": n, "normalized": normalize(n)} for n in names if tokens(n)]
    if not rows:
        return 0
    result = conn.execute(insert(EntityAlias).on_conflict_do_nothing().returning(EntityAlias.id), rows)
    return len(result.all())


def feed_from_fields(engine: Engine) -> ImportReport:
    """Values of per-source structured fields mapped to entity types (`extraction.entities`) become
    entities, once per distinct name and type; resolution then links them to catalog entries."""
    records: dict[str, dict[str, Record]] = {}
    with engine.connect() as conn:
        sources = conn.execute(select(Source.id, Source.extraction_rules)).all()
        for source_id, rules in sources:
            mapping = (rules or {}).get("entities") or {}
            if not mapping:
                continue
            for (fields,) in conn.execute(
                select(Document.fields).where(Document.source_id == source_id, Document.fields != {})
            ):
                for field_name, entity_type in mapping.items():
                    values = fields.get(field_name)
                    for value in values if isinstance(values, list) else [values]:
                        if isinstance(value, str) and tokens(value):
                            by_name = records.setdefault(entity_type, {})
                            by_name.setdefault(
                                normalize(value),
                                Record(0, value.strip(), attributes={"from_field": field_name}),
                            )
    created = updated = aliases = 0
    for entity_type, by_name in records.items():
        report = import_records(engine, list(by_name.values()), entity_type, origin="field")
        created, updated, aliases = (
            created + report.created,
            updated + report.updated,
            aliases + report.aliases,
        )
    return ImportReport(created, updated, aliases)


def catalog_version(conn: Connection) -> int:
    """Changes whenever aliases are added or removed (extraction rescans chunks then)."""
    row = conn.execute(
        select(func.coalesce(func.max(EntityAlias.id), 0), func.count()).select_from(EntityAlias)
    ).one()
    return int(row[0]) * 1_000_003 + int(row[1])


def load_index(engine: Engine, thresholds: dict[str, float], default: float) -> AliasIndex:
    """Every alias of every entity, with context words (its other names and attribute values)."""
    context: dict[int, set[str]] = {}
    with engine.connect() as conn:
        for entity_id, attributes in conn.execute(select(Entity.id, Entity.attributes)):
            words = context.setdefault(entity_id, set())
            for value in (attributes or {}).values():
                if isinstance(value, str):
                    words.update(tokens(value))
        rows = conn.execute(
            select(EntityAlias.entity_id, Entity.type, EntityAlias.alias).join(
                Entity, Entity.id == EntityAlias.entity_id
            )
        ).all()
    for entity_id, _, alias in rows:
        context.setdefault(entity_id, set()).update(tokens(alias))
    aliases: list[Alias] = []
    for entity_id, entity_type, alias in rows:
        made = make_alias(entity_id, entity_type, alias, context.get(entity_id, ()))
        if made is not None:
            aliases.append(made)
    return AliasIndex.build(
        aliases, {**dict.fromkeys({a.entity_type for a in aliases}, default), **thresholds}
    )
