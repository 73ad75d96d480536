"""Process benchmark: `harvest process` (extraction + dedup + chunking + writes) vs trafilatura alone,
and the stage on a process pool (HARVEST_PROCESS_WORKERS, default one per core) vs the stage in one process.

  .venv/bin/python bench/process.py           # 2,000 generated pages
  .venv/bin/python bench/process.py --quick   # 400 pages, same measurement, under a minute

The limit is `trafilatura.extract(html, url=url)` on the same pages in the same run, one page after
another, in this process. Harvest's figure is the whole stage: reading raw versions from the store,
extraction with metadata, language, exact + near-duplicate detection, tokenisation and chunking, and
the PostgreSQL writes (documents, history, LSH bands, chunks), one transaction per batch.

`pool_speedup` is the same stage on the same pages with the worker pool (its start-up included: the
forkserver imports and warms once) against HARVEST_PROCESS_WORKERS=1; the documents are emptied between
the two runs, so both do exactly the same work.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import psutil
import trafilatura
from sqlalchemy import text

from harvest.crawl.runs import create_run, finish_run
from harvest.crawl.sources import add_source, source_id
from harvest.crawl.spec import parse_spec
from harvest.crawl.writer import CrawlWriter, PageOutcome
from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.process.pool import worker_count
from harvest.process.runner import process_pending
from harvest.settings import load_settings
from harvest.storage import open_raw_store

WORDS = [
    "river",
    "market",
    "energy",
    "school",
    "garden",
    "engine",
    "letter",
    "museum",
    "harbour",
    "forest",
    "council",
    "budget",
    "library",
    "station",
    "bridge",
    "recipe",
    "season",
    "science",
    "weather",
    "village",
    "planet",
    "doctor",
    "concert",
    "island",
    "factory",
]


STYLE = (
    "<style>"
    + "".join(f".c{k}{{margin:{k}px;padding:{k % 7}px;color:#{k:06x}}}" for k in range(150))
    + "</style>"
)
SCRIPT = (
    "<script>"
    + "".join(f"window.t{k}=function(a){{return a*{k}+{k % 13};}};" for k in range(120))
    + "</script>"
)


def article_html(n: int, rng: random.Random, variant: int = 0) -> str:
    """A news-like page (~15 KiB: styles, scripts, menus, a sidebar, an article of 6-12 paragraphs).
    The article text depends on n only; `variant` changes the boilerplate and one sentence."""
    topic = random.Random(n)
    paragraphs = []
    for _ in range(topic.randint(6, 12)):
        sentences = [
            " ".join(topic.choice(WORDS) for _ in range(topic.randint(9, 18))).capitalize() + "."
            for _ in range(topic.randint(2, 5))
        ]
        paragraphs.append("<p>" + " ".join(sentences) + "</p>")
    if variant:
        paragraphs[-1] = paragraphs[-1].replace("</p>", " An editor added this sentence to the copy.</p>")
    nav = "".join(f"<a href='/section/{k}'>Section {k}</a> " for k in range(12))
    sidebar = "".join(
        f"<li><a href='/p/{rng.randrange(10_000)}'>Related story {k}</a></li>" for k in range(8)
    )
    footer = f"<footer>© Publisher {variant}. Privacy. Terms. Cookies. Newsletter. Contact.</footer>"
    return (
        f"<html lang='en'><head><title>Story {n}</title><meta name='author' content='Writer {n % 17}'>{STYLE}"
        f"<meta name='description' content='Story number {n}'></head><body><nav>{nav}</nav>"
        f"<main><article><h1>Story {n}</h1>{''.join(paragraphs)}</article></main>"
        f"<aside><ul>{sidebar}</ul></aside>{footer}{SCRIPT}</body></html>"
    )


def generate(pages: int, seed: int = 11) -> dict[str, bytes]:
    """Mostly distinct articles; every 10th repeats an earlier article with other boilerplate (a near
    duplicate), every 25th repeats one byte for byte under another URL (an exact duplicate)."""
    rng = random.Random(seed)
    site: dict[str, bytes] = {}
    for n in range(pages):
        if n % 25 == 24:
            html = article_html(n - 1, rng, variant=0)
        elif n % 10 == 9:
            html = article_html(n - 5, rng, variant=1)
        else:
            html = article_html(n, rng)
        site[f"https://bench.example.org/p/{n}"] = html.encode()
    return site


def harvest_cpu_s() -> float:
    """CPU seconds of this process and of its process pool: forked workers once reaped (Linux), or a
    forkserver and the workers it reaped (elsewhere); PostgreSQL's own CPU is not counted."""
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = time.process_time() + reaped.ru_utime + reaped.ru_stime
    for child in psutil.Process().children(recursive=False):
        try:
            times = child.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def postgres_cpu_s(data_dir: Path) -> float:
    """CPU seconds of the bench's own PostgreSQL server: the postmaster, its live backends and the
    ones it reaped."""
    pid_file = data_dir / "postgres" / "postmaster.pid"
    try:
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for backend in postmaster.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += sum(backend.cpu_times()[:2])
        return total
    except (OSError, ValueError, IndexError, psutil.Error):
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="400 pages instead of 2,000")
    args = parser.parse_args()
    count = 400 if args.quick else 2000
    site = generate(count)

    data_dir = Path(tempfile.mkdtemp(prefix="harvest-bench-process-"))
    settings = load_settings(_env_file=None, data_dir=data_dir, log_level="WARNING")
    try:
        engine = get_engine(settings)
        add_source(engine, parse_spec({"name": "bench", "start_urls": ["https://bench.example.org/"]}))
        run_id = create_run(engine, "bench")
        with open_raw_store(settings) as raw:
            writer = CrawlWriter(
                engine, raw, run_id=run_id, source_id=source_id(engine, "bench"), source="bench"
            )
            items = [
                PageOutcome(
                    "fetched", url=u, body=b, content_type="text/html; charset=utf-8", http_status=200
                )
                for u, b in site.items()
            ]
            for start in range(0, len(items), 200):
                writer.write(items[start : start + 200])
        finish_run(engine, run_id, "succeeded")
        print(f"{count} generated pages, {sum(map(len, site.values())) / count / 1024:.1f} KiB of HTML each")

        trafilatura.extract(next(iter(site.values())).decode())  # warm-up: imports, caches
        started = time.perf_counter()
        extracted = 0
        for url, body in site.items():
            if trafilatura.extract(body.decode(), url=url):
                extracted += 1
        limit_s = time.perf_counter() - started

        started = time.perf_counter()
        for url, body in site.items():
            trafilatura.extract(body.decode(), url=url, with_metadata=True)
        limit_meta_s = time.perf_counter() - started

        single = settings.model_copy(update={"process_workers": 1})
        cpu, own, pg = harvest_cpu_s(), time.process_time(), postgres_cpu_s(data_dir)
        started = time.perf_counter()
        report = process_pending(single)
        harvest_s = time.perf_counter() - started
        single_cpu = harvest_cpu_s() - cpu
        single_pg = postgres_cpu_s(data_dir) - pg
        assert report.processed == count, report

        with engine.begin() as conn:  # the same pages again, from scratch, on the pool
            conn.execute(text("TRUNCATE documents CASCADE"))
        workers = worker_count(settings.process_workers)
        cpu, own, pg = harvest_cpu_s(), time.process_time(), postgres_cpu_s(data_dir)
        started = time.perf_counter()
        pooled = process_pending(settings)
        pool_s = time.perf_counter() - started
        pool_cpu = harvest_cpu_s() - cpu
        pool_parent_cpu = time.process_time() - own
        pool_pg = postgres_cpu_s(data_dir) - pg
        assert pooled == report, (pooled, report)

        limit_rate, harvest_rate = count / limit_s, count / harvest_s
        print(
            f"trafilatura.extract alone   {count} docs {limit_s:7.2f} s {limit_rate:7.1f} docs/s "
            f"({extracted} with text)"
        )
        print(
            f"trafilatura.extract + meta  {count} docs {limit_meta_s:7.2f} s "
            f"{count / limit_meta_s:7.1f} docs/s "
            "(with_metadata=True: the same metadata Harvest extracts, htmldate's default search)"
        )
        print(
            f"harvest process, 1 process  {count} docs {harvest_s:7.2f} s {harvest_rate:7.1f} docs/s "
            f"(CPU {single_cpu:.2f} s; PostgreSQL {single_pg:.2f} s)"
        )
        print(
            f"harvest process, {workers} workers  {count} docs {pool_s:7.2f} s {count / pool_s:7.1f} docs/s "
            f"(CPU {pool_cpu:.2f} s in this process + workers, of which this process "
            f"{pool_parent_cpu:.2f} s, pool start-up included; PostgreSQL {pool_pg:.2f} s)"
        )
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(
            f"  documents {report.documents}, exact duplicates {report.exact_duplicates}, near duplicates "
            f"{report.near_duplicates}, skipped {report.skipped}, chunks {report.chunks_added}"
        )
        ratio = harvest_rate / limit_rate
        meta_ratio = harvest_rate / (count / limit_meta_s)
        pool_speedup = harvest_s / pool_s
        print(
            f"1 process: ratio vs extract() = {ratio:.2f}; vs extract(with_metadata=True) = "
            f"{meta_ratio:.2f} (target >= 1.5)"
        )
        print(f"{workers} workers / 1 process = {pool_speedup:.2f} (target >= 1.8 on 2 cores)")
        print(
            f"RESULT ratio_vs_trafilatura={ratio:.3f} docs_per_s={harvest_rate:.1f} "
            f"ratio_vs_trafilatura_meta={meta_ratio:.3f} pool_speedup={pool_speedup:.3f} "
            f"pool_docs_per_s={count / pool_s:.1f} workers={workers}"
        )
    finally:
        dispose_engines()
        EmbeddedPostgres(data_dir).stop()


if __name__ == "__main__":
    main()
