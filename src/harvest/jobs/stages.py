"""What each pipeline stage does when its job runs: the existing stage functions, reporting progress
into the stage's row and stopping at a checkpoint when the job is cancelled."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from harvest.crawl.runner import run_crawl
from harvest.crawl.runs import FINISHED_STATUSES, RunView, create_run
from harvest.db.engine import get_engine
from harvest.errors import ConflictError, HarvestError
from harvest.jobs.pipeline import mark_stage
from harvest.settings import Settings

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0


class StageCancelled(Exception):
    """The job was asked to stop (a user cancelled the pipeline)."""


class StageInterrupted(Exception):
    """The worker is shutting down: the job is retried (by this or another worker)."""


class StageFailed(HarvestError):
    """The stage ran but did not succeed (e.g. the crawl process failed). `retryable=False`: the stage
    ran to its end and said why it failed; running it again at once would say the same."""

    def __init__(self, message: str | None = None, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Progress:
    """Throttled progress writes into the stage's row, and the cancellation checkpoint."""

    def __init__(
        self, settings: Settings, run_id: int, stage: str, abort: Callable[[], str | None] | None
    ) -> None:
        self.engine = get_engine(settings)
        self.run_id, self.stage, self.abort = run_id, stage, abort
        self.last = 0.0

    def checkpoint(self) -> None:
        reason = self.abort() if self.abort else None
        if reason == "shutdown":
            raise StageInterrupted("the worker is shutting down")
        if reason is not None:
            raise StageCancelled(reason)

    def __call__(self, counts: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            mark_stage(self.engine, self.run_id, self.stage, counts=counts)
        self.checkpoint()


def crawl_stage(settings: Settings, source: str, progress: Progress) -> dict[str, Any]:
    engine = get_engine(settings)
    # A crawl of this source by a worker that just died may still be closing: wait for it to end.
    deadline = time.monotonic() + settings.worker_stalled_after_s + 60
    while True:
        try:
            run_id = create_run(engine, source)
            break
        except ConflictError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
    stopping = False

    def on_progress(view: RunView) -> None:
        nonlocal stopping
        try:
            progress(view.counts | {"crawl_run": run_id})
        except (StageCancelled, StageInterrupted):
            if not stopping:
                stopping = True
                raise KeyboardInterrupt from None  # run_crawl stops its crawl process gracefully

    view = run_crawl(settings, source, on_progress=on_progress, run_id=run_id)
    counts = view.counts | {"crawl_run": run_id}
    if stopping:
        progress.checkpoint()  # raises the reason we stopped for
    if view.status not in FINISHED_STATUSES:  # "partial" goes on: the pages that worked are processed
        raise StageFailed(
            f"crawl run {run_id} {view.status}: {view.message or 'no message'}",
            retryable=view.status != "failed",
        )
    return counts


def process_stage(settings: Settings, source: str, progress: Progress) -> dict[str, Any]:
    from harvest.process.runner import process_pending

    report = process_pending(
        settings, source, on_progress=lambda done, total: progress({"done": done, "total": total})
    )
    return asdict(report)


def embed_stage(settings: Settings, source: str, progress: Progress) -> dict[str, Any]:
    from harvest.embeddings.stage import embed_pending

    report = embed_pending(
        settings,
        on_progress=lambda done, total, rate: progress(
            {"done": done, "total": total, "per_s": round(rate, 1)}
        ),
    )
    return asdict(report) | {"per_s": round(report.rate, 1)}


def entities_stage(settings: Settings, source: str, progress: Progress) -> dict[str, Any]:
    from harvest.entities.service import extract_mentions, resolve_entities

    resolved = resolve_entities(settings)  # new catalog entries first, so mentions land in their clusters
    report = extract_mentions(
        settings, on_progress=lambda done, total: progress({"done": done, "total": total})
    )
    return {
        "chunks": report.chunks,
        "mentions": report.mentions,
        "candidates": report.candidates,
        "from_fields": report.fed_entities,
        "clusters": resolved.clusters,
    }


def train_stage(settings: Settings, source: str, progress: Progress) -> dict[str, Any]:
    """Train every dataset the source opted into (a new version only when its snapshot changed)."""
    from harvest.train.queueing import targets_for
    from harvest.train.trainer import TrainOptions, train_if_changed

    counts: dict[str, Any] = {}
    for dataset in targets_for(settings, source, "train"):
        progress(counts | {"training": dataset})
        counts[dataset] = train_if_changed(settings, dataset, TrainOptions(), checkpoint=progress.checkpoint)
    return counts


def predict_stage(settings: Settings, source: str, progress: Progress) -> dict[str, Any]:
    """Label the source's new documents with each opted-in model's production version."""
    from harvest.train.predictions import predict_source
    from harvest.train.queueing import targets_for

    counts: dict[str, Any] = {}
    for model in targets_for(settings, source, "predict"):
        report = predict_source(
            settings, model, source, on_progress=lambda done, total: progress({"done": done, "total": total})
        )
        counts[model] = {"version": report.version, "predicted": report.predicted}
    return counts


STAGE_FUNCTIONS: dict[str, Callable[[Settings, str, Progress], dict[str, Any]]] = {
    "train": train_stage,
    "predict": predict_stage,
    "crawl": crawl_stage,
    "process": process_stage,
    "entities": entities_stage,
    "embed": embed_stage,
}
