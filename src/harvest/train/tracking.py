"""MLflow, used as a library: where its tracking store and artifacts live, and the one client Harvest uses.

The tracking store is a database of its own (`HARVEST_MLFLOW_DATABASE`, default `mlflow`) in the same
PostgreSQL server as Harvest's (embedded or production), migrated by MLflow itself and never by Harvest's
Alembic chain. Artifacts go under `mlflow/` in the ObjectStore (a directory, or S3/MinIO). MLflow reads S3
credentials and the endpoint from the environment: `configure_environment` is the one place that sets them,
from Harvest's settings.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import URL, make_url

from harvest.errors import StoreUnavailableError
from harvest.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

EXPERIMENT_PREFIX = "harvest/"
_lock = threading.Lock()
_ready: set[str] = set()


def tracking_uri(settings: Settings, *, start: bool = True) -> str:
    """The MLflow tracking (and registry) URI: HARVEST_MLFLOW_TRACKING_URI, else the `mlflow` database
    next to Harvest's own (created on first use)."""
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    from harvest.db.engine import ensure_database, server_url

    url: URL = server_url(settings, start=start).set(database=settings.mlflow_database)
    key = url.render_as_string(hide_password=False)
    if key not in _ready:
        ensure_database(url, settings)
        _ready.add(key)
    return key


def display_uri(settings: Settings) -> str:
    """The tracking URI for messages and `mlflow ui --backend-store-uri` (password masked)."""
    uri = tracking_uri(settings)
    if "://" in uri and not uri.startswith("http"):
        return make_url(uri).render_as_string(hide_password=True)
    return uri


def artifact_root(settings: Settings) -> str:
    """Where MLflow writes artifacts: `mlflow/` under the ObjectStore's root."""
    url = settings.object_store_url
    if url is None:
        return (settings.objects_dir / "mlflow").as_uri()
    parts = urlsplit(url)
    if parts.scheme == "s3":
        prefix = parts.path.strip("/")
        return f"s3://{parts.netloc}/{prefix + '/' if prefix else ''}mlflow"
    local = Path(unquote(parts.path)) if parts.scheme == "file" else Path(url)
    return (local.expanduser().absolute() / "mlflow").as_uri()


def object_uri(settings: Settings, key: str) -> str:
    """The URI of an ObjectStore object, for MLflow (which reads it as a dataset source)."""
    root = artifact_root(settings).removesuffix("/mlflow")
    return f"{root}/{key}"


def configure_environment(settings: Settings) -> None:
    """Hand MLflow the settings it reads from the environment (S3 endpoint and credentials; quiet, offline
    behaviour). The only place Harvest writes MLflow's variables."""
    env = {
        "MLFLOW_S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": settings.s3_access_key_id,
        "AWS_SECRET_ACCESS_KEY": (
            settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
        ),
        "AWS_DEFAULT_REGION": settings.s3_region if settings.object_store_url else None,
    }
    for name, value in env.items():
        if value:
            os.environ[name] = value
    # no telemetry, no "install these packages" inference that would import/pip at log time
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    # MLflow's own deprecations (e.g. SQLAlchemy 2.1's on its store) are not the user's to act on.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"mlflow(\.|$)")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"mlflow(\.|$)")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow(\.|$)")


def client(settings: Settings) -> MlflowClient:
    """An MlflowClient on Harvest's tracking store and registry (tables created by MLflow on first use)."""
    configure_environment(settings)
    uri = tracking_uri(settings)
    import mlflow
    from mlflow import MlflowClient

    with _lock:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            return MlflowClient(tracking_uri=uri, registry_uri=uri)
        except Exception as error:
            raise StoreUnavailableError(
                f"cannot open MLflow's tracking store ({display_uri(settings)}): {_first_line(error)}"
            ) from error


def experiment_id(settings: Settings, model_name: str) -> str:
    """The experiment of a model (`harvest/<name>`), created with its artifacts in the ObjectStore."""
    mlflow_client = client(settings)
    name = EXPERIMENT_PREFIX + model_name
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            mlflow_client.restore_experiment(found.experiment_id)
        return str(found.experiment_id)
    from mlflow.exceptions import MlflowException

    location = f"{artifact_root(settings)}/{model_name}"
    try:
        return str(mlflow_client.create_experiment(name, artifact_location=location))
    except MlflowException:  # created by a concurrent run first
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def current_client() -> MlflowClient:
    """A client on the tracking URI `client()` last configured (inside a training run)."""
    from mlflow import MlflowClient

    return MlflowClient()
