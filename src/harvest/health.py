"""A check of every store the settings name: what `harvest status` (and later the API's /health) shows."""

from __future__ import annotations

from dataclasses import dataclass

from harvest.db.status import DatabaseStatus, database_status
from harvest.settings import Settings
from harvest.storage import open_object_store, open_raw_store

_PROBE_KEY = "_health/probe"


@dataclass(frozen=True)
class StoreHealth:
    name: str
    backend: str
    detail: str


@dataclass(frozen=True)
class StackHealth:
    database: DatabaseStatus
    stores: list[StoreHealth]


def check_stack(settings: Settings) -> StackHealth:
    """Start what is embedded, then prove each store answers: count raw pages, write+read+delete a probe."""
    from harvest.db.engine import get_engine

    get_engine(settings)
    database = database_status(settings)
    with open_raw_store(settings) as raw:
        raw_health = StoreHealth("raw store", raw.backend, f"{raw.count()} page versions")
    objects = open_object_store(settings)
    objects.put(_PROBE_KEY, b"ok")
    readable = objects.get(_PROBE_KEY) == b"ok"
    objects.delete(_PROBE_KEY)
    object_health = StoreHealth(
        "object store", objects.backend, "read/write ok" if readable else "read back differs"
    )
    return StackHealth(database=database, stores=[raw_health, object_health])
