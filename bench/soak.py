"""Soak test (`make soak`, not CI): `harvest up` under pipelines and searches for 30 minutes, watching the
memory (RSS) of the API and worker processes.

  .venv/bin/python bench/soak.py               # 30 minutes
  .venv/bin/python bench/soak.py --minutes 5   # shorter, same measurement
  .venv/bin/python bench/soak.py --quick       # 3 minutes

Set-up: a fresh data directory, `harvest up` (API + one worker), generated sites. All the time: four
clients search (hybrid, rotating queries) back to back with a short pause. In turns: a pipeline over a
new source (new pages: crawl, process, entities, embed), then a re-run of an earlier source (incremental:
conditional requests, nothing new to embed). RSS of the API and the worker is sampled every 5 s.

Growth = (median RSS over the last 10 % of the run - median RSS over the 10 % after the warm-up) ÷ the
latter. The warm-up (the first 20 % of the run, at least the first pipeline and search) is where models
load and caches fill. Target: < 10 % for both.

Last line: RESULT api_rss_growth_pct=… worker_rss_growth_pct=… pipelines=… searches=… search_errors=…
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import psutil

from harvest.crawl.sources import add_source
from harvest.crawl.spec import parse_spec
from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.jobs.pipeline import get_pipeline, start_pipeline
from harvest.settings import load_settings, settings_env

BENCH = Path(__file__).resolve().parent
TOKEN = "soak-benchmark-token-0123456789abcdef"  # noqa: S105 - a throwaway data dir's token
QUERIES = ["vector search index", "train model batch", "crawl fetch page", "entity graph", "rank score"]
SITE_PAGES = 80
SAMPLE_EVERY_S = 5.0


class Searchers:
    """Clients searching back to back (with a short pause) until stopped."""

    def __init__(self, base: str, clients: int) -> None:
        self.base, self.clients = base, clients
        self.stop = threading.Event()
        self.done = 0
        self.errors = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(clients)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _run(self, n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
            while not self.stop.is_set():
                try:
                    ok = client.get(f"{self.base}/api/search", params={"q": rng.choice(QUERIES)}).is_success
                except httpx.HTTPError:
                    ok = False
                with self.lock:
                    self.done += 1
                    self.errors += 0 if ok else 1
                time.sleep(0.05)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=70)


def child(up: psutil.Process, marker: list[str]) -> psutil.Process | None:
    for process in up.children():
        try:
            if process.cmdline()[-len(marker) :] == marker or process.cmdline()[3:5] == marker:
                return process
        except psutil.NoSuchProcess:
            continue
    return None


def growth(samples: list[tuple[float, int]], warm_until: float, end: float) -> tuple[float, int, int]:
    """(growth %, RSS after warm-up, RSS at the end) from (time, rss) samples."""
    span = end - warm_until
    early = [rss for t, rss in samples if warm_until <= t <= warm_until + 0.1 * span]
    late = [rss for t, rss in samples if t >= end - 0.1 * span]
    if not early or not late:
        return float("nan"), 0, 0
    start, finish = int(statistics.median(early)), int(statistics.median(late))
    return 100.0 * (finish - start) / start, start, finish


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="3 minutes")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    minutes = 3.0 if args.quick else args.minutes
    data_dir = Path(tempfile.mkdtemp(prefix="harvest-bench-soak-"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        _env_file=None,
        data_dir=data_dir,
        crawl_allowed_hosts=["127.0.0.1"],
        api_token=TOKEN,
        api_port=port,
        log_level="WARNING",
    )
    sites: list[subprocess.Popen[str]] = []
    up: subprocess.Popen[bytes] | None = None
    searchers: Searchers | None = None
    try:
        engine = get_engine(settings)
        env = settings_env(settings) | {"HARVEST_API_RATE_LIMITS": "search=off"}
        up = subprocess.Popen(
            [sys.executable, "-m", "harvest", "up", "--workers", "1"],
            env=env,
            stdout=(data_dir / "up.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_for(base)
        supervisor = psutil.Process(up.pid)
        searchers = Searchers(base, args.clients)
        searchers.start()
        began = time.monotonic()
        end = began + minutes * 60
        api_rss: list[tuple[float, int]] = []
        worker_rss: list[tuple[float, int]] = []
        pipelines, failed, seed = 0, 0, 100
        names: list[str] = []
        next_sample = began
        run_id: int | None = None
        restarts = 0
        worker_pid: int | None = None
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                next_sample = now + SAMPLE_EVERY_S
                api = child(supervisor, ["api", "serve"])
                worker = child(supervisor, ["worker"])
                if api is not None:
                    api_rss.append((now - began, api.memory_info().rss))
                if worker is not None:
                    if worker_pid is not None and worker.pid != worker_pid:
                        restarts += 1
                    worker_pid = worker.pid
                    worker_rss.append((now - began, worker.memory_info().rss))
            if run_id is None or get_pipeline(engine, run_id).done:
                if run_id is not None:
                    pipelines += 1
                    failed += get_pipeline(engine, run_id).status != "succeeded"
                if pipelines % 2 == 0 or not names:  # a new source: real work in every stage
                    seed += 1
                    site = subprocess.Popen(
                        [sys.executable, str(BENCH / "_site.py"), str(SITE_PAGES), "2", str(seed)],
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                    sites.append(site)
                    assert site.stdout is not None
                    url = f"http://127.0.0.1:{site.stdout.readline().strip()}/p/0"
                    name = f"site-{seed}"
                    add_source(engine, parse_spec({"name": name, "start_urls": [url], "concurrency": 8}))
                    names.append(name)
                else:  # an earlier one again: incremental
                    name = random.Random(seed).choice(names)
                run_id = start_pipeline(settings, name).id
            time.sleep(0.5)
        elapsed = time.monotonic() - began
        searchers.finish()
        warm = max(0.2 * elapsed, 60.0)
        api_growth, api_start, api_end = growth(api_rss, warm, elapsed)
        worker_growth, worker_start, worker_end = growth(worker_rss, warm, elapsed)
        mib = 1024 * 1024
        print(
            f"{minutes:.0f} min of `harvest up`: {pipelines} pipelines ({failed} not succeeded), "
            f"{searchers.done} searches ({searchers.errors} errors), {args.clients} search clients"
        )
        print(
            f"API RSS    {api_start / mib:7.1f} MiB after warm-up -> {api_end / mib:7.1f} MiB: "
            f"{api_growth:+.1f} %"
        )
        print(
            f"worker RSS {worker_start / mib:7.1f} MiB after warm-up -> {worker_end / mib:7.1f} MiB: "
            f"{worker_growth:+.1f} %" + (f" ({restarts} worker restarts!)" if restarts else "")
        )
        print(
            f"RESULT api_rss_growth_pct={api_growth:.1f} worker_rss_growth_pct={worker_growth:.1f} "
            f"pipelines={pipelines} failed_pipelines={failed} searches={searchers.done} "
            f"search_errors={searchers.errors} worker_restarts={restarts}"
        )
    finally:
        if searchers is not None:
            searchers.finish()
        if up is not None and up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)
            up.wait(timeout=60)
        for site in sites:
            site.terminate()
        dispose_engines()
        EmbeddedPostgres(data_dir).stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_for(base: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("the API did not come up")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
