"""The CLI as a client of a running Harvest: `harvest search` asks the API of `harvest up` (or `harvest api
serve`) when one serves this installation's database, because its query model is already loaded.

Where the API listens: the address `harvest api serve` records under the data directory while it runs,
else HARVEST_API_HOST/HARVEST_API_PORT. It is used only when it accepts our token and serves the same
database as ours; anything else (nothing listening, another installation, another token) means "search
in-process"."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harvest.errors import (
    ConflictError,
    HarvestError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
)
from harvest.settings import Settings

if TYPE_CHECKING:
    import httpx

    from harvest.search.results import SearchResults

logger = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 1.0
SEARCH_TIMEOUT_S = 60.0
_STATUS_ERRORS: dict[int, type[HarvestError]] = {
    404: NotFoundError,
    409: ConflictError,
    422: InvalidInputError,
}


def api_file(settings: Settings) -> Path:
    return settings.data_dir / "run" / "api.json"


def record_api(settings: Settings, host: str, port: int) -> Path:
    """Called by `harvest api serve`: where this process serves the API (removed when it stops)."""
    path = api_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    connect = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104 - a bind-all address
    path.write_text(json.dumps({"pid": os.getpid(), "url": f"http://{_host(connect)}:{port}"}))
    return path


def forget_api(path: Path) -> None:
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _candidate_urls(settings: Settings) -> list[str]:
    urls = []
    try:
        recorded = json.loads(api_file(settings).read_text())
        os.kill(int(recorded["pid"]), 0)  # the process that wrote it still runs
        urls.append(str(recorded["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    host = "127.0.0.1" if settings.api_host in {"0.0.0.0", "::", ""} else settings.api_host  # noqa: S104
    default = f"http://{_host(host)}:{settings.api_port}"
    if default not in urls:
        urls.append(default)
    return urls


@dataclass
class RunningApi:
    url: str
    client: httpx.Client
    model_loaded: bool

    def search(self, params: list[tuple[str, str | int | float | bool | None]]) -> SearchResults:
        import httpx

        try:
            response = self.client.get("/api/search", params=params, timeout=SEARCH_TIMEOUT_S)
        except httpx.TransportError as error:
            raise StoreUnavailableError(
                f"the Harvest API at {self.url} stopped answering: {error}"
            ) from error
        if response.status_code != 200:
            raise _error_of(response)
        return results_of(response.json())


def find_running_api(settings: Settings) -> RunningApi | None:
    """The running API of this installation, if there is one that accepts our token."""
    import httpx

    ours = settings.database_identity
    headers = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    for url in _candidate_urls(settings):
        client = httpx.Client(base_url=url, headers=headers, timeout=PROBE_TIMEOUT_S)
        try:
            health = client.get("/api/health")
            body = health.json() if health.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            body = {}
        if body.get("instance") == ours:
            return RunningApi(url, client, bool(body.get("model_loaded")))
        logger.debug("no usable Harvest API", extra={"url": url, "status": body.get("status")})
        client.close()
    return None


def _error_of(response: httpx.Response) -> HarvestError:
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}"
    error_type = _STATUS_ERRORS.get(response.status_code, StoreUnavailableError)
    return error_type(message)


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def results_of(body: dict[str, Any]) -> SearchResults:
    """The API's search response as the engine's result type (what the CLI prints)."""
    from harvest.search.results import SearchHit, SearchResults

    hits = [
        SearchHit(
            **{k: v for k, v in item.items() if k not in {"published_at", "fetched_at"}},
            published_at=_when(item.get("published_at")),
            fetched_at=_when(item.get("fetched_at")),
        )
        for item in body["items"]
    ]
    return SearchResults(
        query=body["query"],
        mode=body["mode"],
        model=body["model"],
        hits=hits,
        limit=body["limit"],
        offset=body["offset"],
        next_offset=body["next_offset"],
        took_ms=body["took_ms"],
        warnings=list(body.get("warnings", [])),
    )
