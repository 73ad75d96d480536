"""The API loads the query model when it starts, not inside the first search, and follows the active
model: when embedding creates or activates one, it is loaded within `interval_s`. /api/health reports
`ready` once it is in memory (`harvest up` waits for that before it says it is up)."""

from __future__ import annotations

import logging
import threading
import time

from harvest.embeddings.store import active_model
from harvest.errors import HarvestError
from harvest.search.engine import Searcher

logger = logging.getLogger(__name__)


class ModelLoader:
    def __init__(self, searcher: Searcher, interval_s: float = 5.0) -> None:
        self.searcher = searcher
        self.interval_s = interval_s
        self.loaded: str | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="model-loader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def ready_for(self, active: str | None) -> bool:
        """The active model (or, before there is one, the configured model) is in memory."""
        if active is not None:
            return self.searcher.model_loaded(active)
        return self.loaded is not None

    def _active_name(self) -> str | None:
        with self.searcher.engine.connect() as conn:
            found = active_model(conn)
        return found[1] if found else None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                active = self._active_name()
                if self.loaded is None or (active is not None and active != self.loaded):
                    started = time.perf_counter()
                    self.loaded = self.searcher.load_model()
                    self.error = None
                    logger.info(
                        "query model loaded",
                        extra={"model": self.loaded, "seconds": round(time.perf_counter() - started, 2)},
                    )
            except Exception as error:  # keep trying: a database restart must not stop the loader for good
                message = error.message if isinstance(error, HarvestError) else _first_line(error)
                if message != self.error:  # once per distinct problem, not every few seconds
                    logger.warning("could not load the query model (will retry): %s", message)
                self.error = message
            self._stop.wait(self.interval_s)


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
