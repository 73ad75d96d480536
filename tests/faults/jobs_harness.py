"""What the job fault tests share: the generated corpus site, worker processes with their logs, waiting,
and a snapshot of everything a pipeline stores, to compare an interrupted run with an uninterrupted one."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text

from harvest.db.engine import get_engine
from harvest.jobs.pipeline import PipelineView, get_pipeline
from harvest.processes import kill_process_tree
from harvest.settings import Settings, settings_env

BENCH_SITE = Path(__file__).resolve().parents[2] / "bench" / "_site.py"


@contextmanager
def corpus_site(pages: int, page_kb: int = 2) -> Iterator[str]:
    """`pages` generated text pages (deterministic, with ETags) served by a process of their own."""
    site = subprocess.Popen(
        [sys.executable, str(BENCH_SITE), str(pages), str(page_kb)], stdout=subprocess.PIPE, text=True
    )
    assert site.stdout is not None
    try:
        yield f"http://127.0.0.1:{site.stdout.readline().strip()}"
    finally:
        site.terminate()
        site.wait(timeout=10)


def wait_until(check: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def finished(settings: Settings, run_id: int, timeout_s: float = 600) -> PipelineView:
    engine = get_engine(settings)
    wait_until(lambda: get_pipeline(engine, run_id).done, timeout_s, f"pipeline {run_id} to end", 0.5)
    return get_pipeline(engine, run_id)


def stage_progress(view: PipelineView, stage: str, total: int | None = None) -> float | None:
    """How far the current attempt of a running stage is (0-1), None when it is not running."""
    current = {s.stage: s for s in view.stages}[stage]
    if current.status != "running":
        return None
    counts = current.counts
    if stage == "crawl":
        return float(counts.get("fetched", 0) or 0) / float(total or 1)
    done, whole = counts.get("done", 0) or 0, counts.get("total", 0) or 0
    return float(done) / float(whole) if whole else 0.0


@dataclass
class Workers:
    """`harvest worker` processes, each with its log file (asserted on: no tracebacks)."""

    settings: Settings
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, concurrency: int = 2) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{len(self.processes) + 1}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "harvest", "worker", "--concurrency", str(concurrency)],
            env=settings_env(self.settings) | self.env | {"PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL a worker and its crawl process (and that one's browser), as a crash would."""
        kill_process_tree(process.pid)
        process.wait(timeout=30)

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_process_tree(process.pid)
                process.wait()


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(processes: list[psutil.Process]) -> list[str]:
    """Those still running (zombies are gone in every way that matters)."""
    left = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return left


def snapshot(settings: Settings, source: str) -> dict[str, Any]:
    """Counts and content hashes of everything a pipeline stores for a source: raw versions, pages,
    documents, chunks and vectors. Two runs that stored exactly the same things have equal snapshots."""
    engine = get_engine(settings)

    def digest(rows: list[Any]) -> str:
        return hashlib.sha256(repr(sorted(tuple(r) for r in rows)).encode()).hexdigest()

    with engine.connect() as conn:
        raw = conn.execute(
            text("SELECT url, version, content_hash FROM raw_pages WHERE source = :s"), {"s": source}
        ).all()
        pages = conn.execute(
            text(
                "SELECT p.url, p.version, p.content_hash FROM pages p JOIN sources s ON s.id = p.source_id "
                "WHERE s.name = :s"
            ),
            {"s": source},
        ).all()
        documents = conn.execute(
            text(
                "SELECT d.url, d.text_hash FROM documents d JOIN sources s ON s.id = d.source_id "
                "WHERE s.name = :s"
            ),
            {"s": source},
        ).all()
        # chunk ids hash the document id, which differs between databases: compare by place and text
        chunks = conn.execute(
            text(
                "SELECT d.url, c.ordinal, md5(c.text) FROM chunks c JOIN documents d ON d.id = c.document_id "
                "JOIN sources s ON s.id = d.source_id WHERE s.name = :s"
            ),
            {"s": source},
        ).all()
        vectors = conn.execute(
            text(
                "SELECT d.url, c.ordinal FROM chunk_embeddings e JOIN chunks c ON c.id = e.chunk_id "
                "JOIN documents d ON d.id = c.document_id JOIN sources s ON s.id = d.source_id "
                "WHERE s.name = :s"
            ),
            {"s": source},
        ).all()
    return {
        "raw_versions": len(raw),
        "raw": digest(raw),
        "pages": len(pages),
        "pages_digest": digest(pages),
        "documents": len(documents),
        "documents_digest": digest(documents),
        "chunks": len(chunks),
        "chunks_digest": digest(chunks),
        "vectors": len(vectors),
        "vectors_digest": digest(vectors),
    }


def no_live_rows(settings: Settings) -> list[str]:
    """Stages or pipelines left queued/running/interrupted (after everything ended there must be none)."""
    with get_engine(settings).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT 'pipeline ' || id || ' ' || status FROM pipeline_runs "
                "WHERE status IN ('queued', 'running', 'interrupted') UNION ALL "
                "SELECT 'stage ' || pipeline_run_id || '/' || stage || ' ' || status FROM pipeline_stages "
                "WHERE status IN ('queued', 'running', 'interrupted')"
            )
        ).all()
    return [r[0] for r in rows]


def env_of(settings: Settings) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    return base | {k: v for k, v in settings_env(settings).items() if k.startswith("HARVEST_")}
