"""The model registry, read and moved through MLflow's client: versions, the `production` alias, rollback.

Each promotion is appended to the registered model's tag `harvest.production_history`, so `rollback` can
move the alias back to the version that served before.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harvest.errors import ConflictError, HarvestError, InvalidInputError, NotFoundError
from harvest.settings import Settings
from harvest.train import tracking

logger = logging.getLogger(__name__)

ALIAS = "production"
HISTORY_TAG = "harvest.production_history"
HISTORY_KEEP = 50


class NoProductionVersionError(ConflictError):
    """A model has no version behind the `production` alias."""

    default_message = "the model has no production version"


@dataclass(frozen=True)
class VersionView:
    name: str
    version: int
    run_id: str | None
    status: str
    created_at: datetime
    aliases: list[str]
    tags: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def dataset(self) -> str | None:
        return self.tags.get("harvest.dataset")

    @property
    def snapshot_id(self) -> str | None:
        return self.tags.get("harvest.snapshot_id")

    @property
    def embedding_model(self) -> str | None:
        return self.tags.get("harvest.embedding_model")

    @property
    def kind(self) -> str:
        return self.tags.get("harvest.kind", "head")

    @property
    def task(self) -> str:
        return self.tags.get("harvest.task", "classify")

    @property
    def classes(self) -> list[str]:
        return list(json.loads(self.tags.get("harvest.labels", "[]")))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "aliases": self.aliases,
            "dataset": self.dataset,
            "snapshot_id": self.snapshot_id,
            "embedding_model": self.embedding_model,
            "kind": self.kind,
            "task": self.task,
            "labels": self.classes,
            "metrics": self.metrics,
            "training_run": int(self.tags["harvest.training_run"])
            if "harvest.training_run" in self.tags
            else None,
        }


@dataclass(frozen=True)
class ModelView:
    name: str
    production: int | None
    latest: int | None
    versions: int
    updated_at: datetime | None
    history: list[int]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "production": self.production,
            "latest": self.latest,
            "versions": self.versions,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "production_history": self.history,
        }


def _ts(millis: int | None) -> datetime:
    return datetime.fromtimestamp((millis or 0) / 1000, UTC)


def _version_view(mv: Any, metrics: dict[str, float] | None = None) -> VersionView:
    return VersionView(
        name=mv.name,
        version=int(mv.version),
        run_id=mv.run_id,
        status=str(mv.status),
        created_at=_ts(mv.creation_timestamp),
        aliases=list(mv.aliases or []),
        tags=dict(mv.tags or {}),
        metrics=metrics or {},
    )


def _registered(client: Any, name: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException as error:
        if getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            raise NotFoundError(f"no registered model {name!r} (see `harvest models list`)") from error
        raise


def _history(model: Any) -> list[int]:
    raw = (model.tags or {}).get(HISTORY_TAG)
    try:
        return [int(v) for v in json.loads(raw)] if raw else []
    except (ValueError, TypeError):
        return []


def _model_view(client: Any, model: Any) -> ModelView:
    versions = [int(v.version) for v in client.search_model_versions(f"name = '{_quote(model.name)}'")]
    aliases = dict(model.aliases or {})
    return ModelView(
        name=model.name,
        production=int(aliases[ALIAS]) if ALIAS in aliases else None,
        latest=max(versions) if versions else None,
        versions=len(versions),
        updated_at=_ts(model.last_updated_timestamp) if model.last_updated_timestamp else None,
        history=_history(model),
    )


def _quote(value: str) -> str:
    return value.replace("'", "\\'")


def list_models(settings: Settings) -> list[ModelView]:
    client = tracking.client(settings)
    return [_model_view(client, m) for m in client.search_registered_models(order_by=["name ASC"])]


def get_model(settings: Settings, name: str) -> tuple[ModelView, list[VersionView]]:
    client = tracking.client(settings)
    model = _registered(client, name)
    versions = sorted(
        client.search_model_versions(f"name = '{_quote(name)}'"), key=lambda v: int(v.version), reverse=True
    )
    views = [_version_view(v, _metrics(client, v.run_id)) for v in versions]
    return _model_view(client, model), views


def _metrics(client: Any, run_id: str | None) -> dict[str, float]:
    if not run_id:
        return {}
    try:
        data = client.get_run(run_id).data
    except HarvestError:
        raise
    except Exception:  # the run was deleted from MLflow: the version stands on its own
        return {}
    wanted = ("test_macro_f1", "test_accuracy", "best_val_macro_f1", "train_seconds")
    return {k: float(v) for k, v in data.metrics.items() if k in wanted}


def get_version(settings: Settings, name: str, version: int) -> VersionView:
    from mlflow.exceptions import MlflowException

    client = tracking.client(settings)
    _registered(client, name)
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException as error:
        raise NotFoundError(
            f"model {name!r} has no version {version} (see `harvest models show {name}`)"
        ) from error
    return _version_view(mv, _metrics(client, mv.run_id))


def production_version(settings: Settings, name: str) -> VersionView:
    """The version behind `production` (NotFoundError: no such model; NoProductionVersionError: none)."""
    from mlflow.exceptions import MlflowException

    client = tracking.client(settings)
    model = _registered(client, name)
    if ALIAS not in dict(model.aliases or {}):
        raise NoProductionVersionError(
            f"model {name!r} has no production version; promote one with `harvest models promote {name} "
            "VERSION`"
        )
    try:
        mv = client.get_model_version_by_alias(name, ALIAS)
    except MlflowException as error:
        raise NoProductionVersionError(f"model {name!r} has no production version") from error
    return _version_view(mv)


def promote(settings: Settings, name: str, version: int) -> VersionView:
    """Point `production` at a version (recorded in the model's promotion history)."""
    client = tracking.client(settings)
    model = _registered(client, name)
    target = get_version(settings, name, version)
    if str(target.status).upper() not in ("READY", "MODELVERSIONSTATUS.READY"):
        raise InvalidInputError(f"model {name!r} version {version} is {target.status}, not ready")
    current = dict(model.aliases or {}).get(ALIAS)
    client.set_registered_model_alias(name, ALIAS, str(version))
    if current is None or int(current) != version:
        history = ([*_history(model), version])[-HISTORY_KEEP:]
        client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    logger.info("promoted", extra={"model": name, "version": version, "previous": current})
    return get_version(settings, name, version)


def rollback(settings: Settings, name: str) -> VersionView:
    """Move `production` back to the version promoted before the current one."""
    client = tracking.client(settings)
    model = _registered(client, name)
    current = dict(model.aliases or {}).get(ALIAS)
    if current is None:
        raise NoProductionVersionError(f"model {name!r} has no production version to roll back")
    history = _history(model)
    while history and history[-1] == int(current):
        history.pop()
    existing = {int(v.version) for v in client.search_model_versions(f"name = '{_quote(name)}'")}
    while history and history[-1] not in existing:
        history.pop()
    if not history:
        raise ConflictError(
            f"model {name!r} has no earlier production version than {current} to roll back to"
        )
    previous = history[-1]
    client.set_registered_model_alias(name, ALIAS, str(previous))
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
    logger.info("rolled back", extra={"model": name, "version": previous, "from": current})
    return get_version(settings, name, previous)


def versions_with_tag(settings: Settings, key: str, value: str) -> list[VersionView]:
    client = tracking.client(settings)
    found = client.search_model_versions(f"tags.`{key}` = '{_quote(value)}'")
    return [_version_view(v) for v in found]
