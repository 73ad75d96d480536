"""Load benchmark: `wrk` against GET /api/search of a running `harvest up` on loopback, first with nothing
else running (the baseline), then while a pipeline (crawl → process → entities → embed) runs on the same
machine.

  .venv/bin/python bench/load.py           # 60 s per phase, 32 connections
  .venv/bin/python bench/load.py --quick   # 12 s per phase, same connections and measurement

Set-up: a fresh data directory, `harvest up` (API + one worker), a searchable corpus (a pipeline over a
generated site, run before measuring), per-client rate limits lifted (a load test is one client). Each
request asks a hybrid search for one of a rotating set of queries, with the bearer token.
(b) baseline: wrk -t2 -c32 for the phase length, no pipeline running.
(l) load: a second source's pipeline is started (other pages: real crawl, processing and embedding work)
    and, once it embeds (the stage that competes hardest for the CPU), wrk runs again; the fraction of
    the phase the pipeline was still running is reported.
Errors = non-2xx answers + socket errors (connect, read, write, timeout).

Last line: RESULT rps=… p99_ms=… errors=… (the load phase) idle_rps=… idle_p99_ms=… idle_errors=…
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import psutil

from harvest.crawl.sources import add_source
from harvest.crawl.spec import parse_spec
from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.jobs.pipeline import PipelineView, get_pipeline, start_pipeline
from harvest.settings import Settings, load_settings, settings_env

BENCH = Path(__file__).resolve().parent
TOKEN = "load-benchmark-token-0123456789abcdef"  # noqa: S105 - a throwaway data dir's token
QUERIES = [
    "vector search index",
    "train the model on a batch",
    "crawl and fetch a page",
    "entity graph",
    "token chunk embed",
    "metric loss epoch",
    "cache store query",
    "rank score",
]


@dataclass
class WrkResult:
    rps: float
    p99_ms: float
    p50_ms: float
    requests: int
    errors: int
    raw: str
    api_cpu_ms: float = 0.0  # CPU time the API process spent per request (independent of other load)


def serve_site(pages: int, seed: int) -> tuple[subprocess.Popen[str], str]:
    site = subprocess.Popen(
        [sys.executable, str(BENCH / "_site.py"), str(pages), "2", str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert site.stdout is not None
    return site, f"http://127.0.0.1:{site.stdout.readline().strip()}"


def wait_pipeline(settings: Settings, run_id: int, timeout_s: float = 3600) -> PipelineView:
    engine = get_engine(settings)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = get_pipeline(engine, run_id)
        if view.done:
            return view
        time.sleep(0.5)
    raise SystemExit(f"pipeline {run_id} did not end within {timeout_s:.0f} s")


def lua_script(path: Path) -> None:
    paths = ", ".join(f'"/api/search?q={q.replace(" ", "+")}&limit=10"' for q in QUERIES)
    path.write_text(
        f"""
local paths = {{{paths}}}
local n = 0
wrk.headers["Authorization"] = "Bearer {TOKEN}"
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
"""
    )


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def api_process(up: subprocess.Popen[bytes]) -> psutil.Process:
    for process in psutil.Process(up.pid).children():
        if process.cmdline()[3:5] == ["api", "serve"]:
            return process
    raise SystemExit("no API process under `harvest up`")


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure(
    up: subprocess.Popen[bytes], base: str, script: Path, seconds: int, connections: int
) -> WrkResult:
    api = api_process(up)
    before = cpu_s(api)
    result = run_wrk(base, script, seconds, connections)
    result.api_cpu_ms = 1000.0 * (cpu_s(api) - before) / max(result.requests, 1)
    return result


def run_wrk(base: str, script: Path, seconds: int, connections: int) -> WrkResult:
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        f"{base}/api/search",
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)", out, re.MULTILINE))

    def percentile(p: str) -> float:
        match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", latency[p])
        assert match, latency
        return _ms(match.group(1), match.group(2))

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(g) for g in sockets.groups()) if sockets else 0
    )
    return WrkResult(rps, percentile("99"), percentile("50"), requests, errors, out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="12 s per phase instead of 60")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    parser.add_argument(
        "--embedding-threads", type=int, default=0, help="HARVEST_EMBEDDING_THREADS for `up` (0: PyTorch's)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    seconds = 12 if args.quick else 60
    corpus_pages, load_pages = (60, 200) if args.quick else (300, 800)
    data_dir = Path(tempfile.mkdtemp(prefix="harvest-bench-load-"))
    port = args.port or _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        _env_file=None,
        data_dir=data_dir,
        crawl_allowed_hosts=["127.0.0.1"],
        api_token=TOKEN,
        api_port=port,
        log_level="WARNING",
        embedding_threads=args.embedding_threads,
    )
    corpus_site, corpus_url = serve_site(corpus_pages, seed=7)
    load_site, load_url = serve_site(load_pages, seed=11)
    up: subprocess.Popen[bytes] | None = None
    try:
        engine = get_engine(settings)
        add_source(
            engine, parse_spec({"name": "corpus", "start_urls": [f"{corpus_url}/p/0"], "concurrency": 8})
        )
        add_source(engine, parse_spec({"name": "load", "start_urls": [f"{load_url}/p/0"], "concurrency": 8}))
        env = settings_env(settings) | {"HARVEST_API_RATE_LIMITS": "search=off"}  # one client, many requests
        up = subprocess.Popen(
            [sys.executable, "-m", "harvest", "up", "--workers", "1"],
            env=env,
            stdout=(data_dir / "up.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started = time.perf_counter()
        view = wait_pipeline(settings, start_pipeline(settings, "corpus").id)
        assert view.status == "succeeded", view
        print(
            f"corpus: {corpus_pages} pages indexed through `harvest up` "
            f"in {time.perf_counter() - started:.0f} s"
        )
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for query in QUERIES * 3:  # warm: the API's model, the database's caches
            answer = httpx.get(f"{base}/api/search", params={"q": query}, headers=auth, timeout=120)
            answer.raise_for_status()
        script = data_dir / "search.lua"
        lua_script(script)

        idle = measure(up, base, script, seconds, args.connections)
        print(
            f"(b) baseline, nothing else running: {idle.rps:.1f} req/s, p50 {idle.p50_ms:.0f} ms, "
            f"p99 {idle.p99_ms:.0f} ms, {idle.errors} errors ({idle.requests} requests; "
            f"API CPU {idle.api_cpu_ms:.1f} ms per search)"
        )

        # measured while the pipeline embeds: the stage that competes hardest for the CPU
        run_id = start_pipeline(settings, "load").id
        while get_pipeline(engine, run_id).stages[3].status != "running":
            time.sleep(0.2)
        began = time.time()
        loaded = measure(up, base, script, seconds, args.connections)
        ended = time.time()
        view = get_pipeline(engine, run_id)
        running_until = view.finished_at.timestamp() if view.finished_at else ended
        overlap = max(0.0, min(1.0, (min(running_until, ended) - began) / (ended - began)))
        stages = " ".join(f"{s.stage}:{s.status}" for s in view.stages)
        print(
            f"(l) while a pipeline runs ({load_pages} pages; {overlap:.0%} of the phase; {stages}): "
            f"{loaded.rps:.1f} req/s, p50 {loaded.p50_ms:.0f} ms, p99 {loaded.p99_ms:.0f} ms, "
            f"{loaded.errors} errors ({loaded.requests} requests; "
            f"API CPU {loaded.api_cpu_ms:.1f} ms per search)"
        )
        print(
            f"wrk -t2 -c{args.connections} -d{seconds}s --latency, hybrid search, "
            f"{len(QUERIES)} queries rotating, HARVEST_EMBEDDING_THREADS={args.embedding_threads}"
        )
        print(
            f"RESULT rps={loaded.rps:.1f} p99_ms={loaded.p99_ms:.0f} errors={loaded.errors} "
            f"idle_rps={idle.rps:.1f} idle_p99_ms={idle.p99_ms:.0f} idle_errors={idle.errors} "
            f"overlap={overlap:.2f} api_cpu_ms_per_search={idle.api_cpu_ms:.1f}"
        )
    finally:
        if up is not None and up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)
            up.wait(timeout=60)
        for site in (corpus_site, load_site):
            site.terminate()
        dispose_engines()
        EmbeddedPostgres(data_dir).stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
