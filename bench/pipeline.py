"""Pipeline benchmark: crawl → searchable through the task queue, with 1 and 2 workers, against the
embedding stage alone on the same chunks, in one run.

  .venv/bin/python bench/pipeline.py           # 1,000 pages of ~2 KiB text
  .venv/bin/python bench/pipeline.py --quick   # 200 pages, same measurement

(1) one worker runs one source's pipeline (crawl → process → embed) from `start_pipeline` to the last
    stage's end: pages/s per stage (from the stage rows) and for the whole;
(e) embedding alone: the vectors are dropped and `embed_pending` re-embeds the same chunks (model load
    included, as in the pipeline's embed stage): the limit the pipeline is measured against;
(2) two workers, a fresh database, the same pages as two sources (even / odd pages) started together.
RESULT pipeline_vs_embed_ratio = (1)'s pages/s ÷ (e)'s pages/s.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sqlalchemy import func, select, text

from harvest.crawl.sources import add_source
from harvest.crawl.spec import parse_spec
from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.db.models import Chunk
from harvest.jobs.pipeline import PipelineView, get_pipeline, start_pipeline
from harvest.settings import Settings, load_settings, settings_env

BENCH = Path(__file__).resolve().parent


def workers(settings: Settings, count: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "harvest", "worker", "--concurrency", "2"],
            env=settings_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(timeout=60)


def wait_all(settings: Settings, run_ids: list[int]) -> list[PipelineView]:
    engine = get_engine(settings)
    while True:
        views = [get_pipeline(engine, run_id) for run_id in run_ids]
        if all(view.done for view in views):
            assert all(v.status == "succeeded" for v in views), [(v.status, v.message) for v in views]
            return views
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200 pages instead of 1,000")
    args = parser.parse_args()
    pages = 200 if args.quick else 1000
    site = subprocess.Popen(
        [sys.executable, str(BENCH / "_site.py"), str(pages), "2"], stdout=subprocess.PIPE, text=True
    )
    data_dir = Path(tempfile.mkdtemp(prefix="harvest-bench-pipeline-"))
    try:
        assert site.stdout is not None
        base = f"http://127.0.0.1:{site.stdout.readline().strip()}"
        common = {
            "_env_file": None,
            "data_dir": data_dir,
            "crawl_allowed_hosts": ["127.0.0.1"],
            "log_level": "WARNING",
        }
        one = load_settings(**common, database_name="one_worker")  # type: ignore[arg-type]
        add_source(
            get_engine(one), parse_spec({"name": "all", "start_urls": [base + "/p/0"], "concurrency": 8})
        )
        print(f"site: {pages} pages of ~2 KiB text at {base}")

        pool = workers(one, 1)
        try:
            started = time.perf_counter()
            [view] = wait_all(one, [start_pipeline(one, "all").id])
            whole_s = time.perf_counter() - started
        finally:
            stop(pool)
        with get_engine(one).connect() as conn:
            chunks = int(conn.execute(select(func.count()).select_from(Chunk)).scalar_one())
        print(
            f"(1) one worker: {pages} pages, {chunks} chunks in {whole_s:.1f} s "
            f"= {pages / whole_s:.1f} pages/s"
        )
        for stage in view.stages:
            print(f"      {stage.stage:<8} {stage.elapsed_s:6.1f} s  {pages / stage.elapsed_s:8.1f} pages/s")

        from harvest.embeddings.stage import embed_pending

        with get_engine(one).begin() as conn:
            conn.execute(text("TRUNCATE chunk_embeddings"))
        started = time.perf_counter()
        report = embed_pending(one)
        embed_s = time.perf_counter() - started
        assert report.embedded == chunks
        print(f"(e) embedding alone: {chunks} chunks in {embed_s:.1f} s = {pages / embed_s:.1f} pages/s")

        two = load_settings(**common, database_name="two_workers")  # type: ignore[arg-type]
        engine = get_engine(two)
        for name, parity in (("even", "[02468]"), ("odd", "[13579]")):
            add_source(
                engine,
                parse_spec(
                    {
                        "name": name,
                        "start_urls": [base + ("/p/0" if name == "even" else "/p/1")],
                        "include": [rf"/p/\d*{parity}$"],
                        "concurrency": 8,
                    }
                ),
            )
        pool = workers(two, 2)
        try:
            started = time.perf_counter()
            views = wait_all(two, [start_pipeline(two, "even").id, start_pipeline(two, "odd").id])
            two_s = time.perf_counter() - started
        finally:
            stop(pool)
        crawled = sum(int(v.stages[0].counts.get("fetched", 0)) for v in views)
        print(
            f"(2) two workers, two sources: {crawled} pages in {two_s:.1f} s = {crawled / two_s:.1f} pages/s"
        )
        ratio = embed_s / whole_s
        print(f"whole pipeline ÷ embedding alone = {ratio:.2f} (target >= 0.8)")
        print(
            f"RESULT pipeline_vs_embed_ratio={ratio:.3f} pages_per_s_1w={pages / whole_s:.2f} "
            f"pages_per_s_2w={crawled / two_s:.2f} embed_only_pages_per_s={pages / embed_s:.2f} "
            f"chunks={chunks}"
        )
    finally:
        site.terminate()
        dispose_engines()
        EmbeddedPostgres(data_dir).stop()


if __name__ == "__main__":
    main()
