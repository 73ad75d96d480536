"""The manifest: what a backup holds, written last — a backup without one is incomplete, whatever else
is there. It names Harvest's version and schema revision, every part with its size and SHA-256, the row
count of every table and the raw store, and the objects (copied into the backup or referenced)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harvest.backup.parts import PartRecord
from harvest.errors import StoreCorruptionError

FORMAT = 1
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class DatabaseDump:
    """One PostgreSQL database: `harvest`, or `mlflow` when the server has it."""

    role: str
    database: str
    part: str
    tables: dict[str, int]
    excluded_data: list[str] = field(default_factory=list)
    server_version: str = ""


@dataclass(frozen=True)
class ObjectEntry:
    """An object of the ObjectStore (artifact, snapshot): copied into the backup as `part`, or only
    referenced (part None) when the backup lives in that same store."""

    key: str
    size: int
    sha256: str | None
    part: str | None = None


@dataclass(frozen=True)
class RawExport:
    backend: str
    part: str
    versions: int


@dataclass(frozen=True)
class Manifest:
    id: str
    harvest_version: str
    schema_revision: str | None
    started_at: datetime
    finished_at: datetime
    trigger: str
    origin: dict[str, str]
    encryption: dict[str, Any] | None
    databases: list[DatabaseDump]
    raw: RawExport
    objects_mode: str  # "copied" | "referenced"
    objects: list[ObjectEntry]
    parts: list[PartRecord]
    format: int = FORMAT
    compression: str = "zstd"

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def encrypted(self) -> bool:
        return self.encryption is not None

    def part(self, name: str) -> PartRecord:
        for part in self.parts:
            if part.name == name:
                return part
        raise StoreCorruptionError(f"backup {self.id}'s manifest lists no part {name!r}")

    def database(self, role: str) -> DatabaseDump | None:
        return next((d for d in self.databases if d.role == role), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "id": self.id,
            "harvest_version": self.harvest_version,
            "schema_revision": self.schema_revision,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_s": round((self.finished_at - self.started_at).total_seconds(), 3),
            "trigger": self.trigger,
            "origin": self.origin,
            "compression": self.compression,
            "encryption": self.encryption,
            "size": self.size,
            "databases": [
                {
                    "role": d.role,
                    "database": d.database,
                    "part": d.part,
                    "server_version": d.server_version,
                    "excluded_data": d.excluded_data,
                    "tables": d.tables,
                }
                for d in self.databases
            ],
            "raw_store": {"backend": self.raw.backend, "part": self.raw.part, "versions": self.raw.versions},
            "objects": {
                "mode": self.objects_mode,
                "items": [
                    {"key": o.key, "size": o.size, "sha256": o.sha256, "part": o.part} for o in self.objects
                ],
            },
            "parts": [part.to_json() for part in self.parts],
        }

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), indent=2, sort_keys=False).encode("utf-8") + b"\n"

    @classmethod
    def loads(cls, data: bytes, backup_id: str) -> Manifest:
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            if int(raw.get("format", 0)) > FORMAT:
                from harvest.errors import InvalidInputError

                raise InvalidInputError(
                    f"backup {backup_id} was made by a newer Harvest (manifest format {raw['format']}); "
                    "upgrade Harvest to read it"
                )
            manifest = cls(
                id=str(raw["id"]),
                harvest_version=str(raw["harvest_version"]),
                schema_revision=raw.get("schema_revision"),
                started_at=datetime.fromisoformat(raw["started_at"]),
                finished_at=datetime.fromisoformat(raw["finished_at"]),
                trigger=str(raw.get("trigger", "manual")),
                origin={str(k): str(v) for k, v in dict(raw.get("origin") or {}).items()},
                encryption=raw.get("encryption"),
                databases=[
                    DatabaseDump(
                        role=str(d["role"]),
                        database=str(d["database"]),
                        part=str(d["part"]),
                        tables={str(k): int(v) for k, v in dict(d["tables"]).items()},
                        excluded_data=[str(t) for t in d.get("excluded_data", [])],
                        server_version=str(d.get("server_version", "")),
                    )
                    for d in raw["databases"]
                ],
                raw=RawExport(
                    str(raw["raw_store"]["backend"]),
                    str(raw["raw_store"]["part"]),
                    int(raw["raw_store"]["versions"]),
                ),
                objects_mode=str(raw["objects"]["mode"]),
                objects=[
                    ObjectEntry(str(o["key"]), int(o["size"]), o.get("sha256"), o.get("part"))
                    for o in raw["objects"]["items"]
                ],
                parts=[PartRecord.from_json(p) for p in raw["parts"]],
                format=int(raw["format"]),
                compression=str(raw.get("compression", "zstd")),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise StoreCorruptionError(
                f"the manifest of backup {backup_id} is unreadable: {error}"
            ) from error
        if manifest.id != backup_id:
            raise StoreCorruptionError(
                f"the manifest under {backup_id} belongs to backup {manifest.id}; it was moved or copied"
            )
        return manifest
