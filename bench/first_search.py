"""First-search benchmark: how long a user waits for the first answer, with and without `harvest up`.

  .venv/bin/python bench/first_search.py           # 5 rounds of each measurement
  .venv/bin/python bench/first_search.py --quick   # 1 round (the corpus is built the same way)

The corpus is the bundled demo site (`harvest demo --no-serve`, not timed) in a data directory of its
own (--data-dir keeps and reuses one). Then, in one run:

(a) baseline: `harvest search QUERY --local` with nothing running, wall time of the whole process
    (start-up, query-model load, search) — what every search cost before `harvest search` could ask a
    running Harvest;
(b) `harvest up` started: seconds until it prints "harvest is up" (its API has loaded the query model);
(c) the first `GET /api/search` after that, wall time as a client sees it (target < 1 s);
(d) `harvest search QUERY` with `up` running, wall time of the whole process (target < 2 s).
RESULT cli_speedup = (a) ÷ (d).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

BENCH_PORT = 18090
SITE_PORT = 18091
QUERIES = ["how do cities keep honeybees", "storing renewable electricity", "volcano eruption warning"]


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    return env | {"HARVEST_DATA_DIR": str(data_dir), "HARVEST_API_PORT": str(BENCH_PORT), "COLUMNS": "120"}


def harvest(*args: str, env: dict[str, str], timeout: float = 600) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "harvest", *args],
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=timeout,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"harvest {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one round of each measurement")
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) the corpus here")
    options = parser.parse_args()
    rounds = 1 if options.quick else 5
    with tempfile.TemporaryDirectory(prefix="harvest-bench-first-") as scratch:
        data_dir = options.data_dir or Path(scratch) / "data"
        env = env_for(data_dir)
        if not (data_dir / "logs" / "demo.log").exists():
            print(f"building the demo corpus in {data_dir} (not timed) …", flush=True)
            harvest("demo", "--no-serve", "--site-port", str(SITE_PORT), env=env, timeout=1200)
        try:
            run(env, rounds)
        finally:
            harvest("db", "stop", env=env)


def run(env: dict[str, str], rounds: int) -> None:
    local = [harvest("search", QUERIES[i % 3], "--local", "-k", "3", env=env)[0] for i in range(rounds)]
    print(f"(a) harvest search, nothing running        median {statistics.median(local):6.2f} s wall")

    started = time.perf_counter()
    up = subprocess.Popen(
        [sys.executable, "-m", "harvest", "up", "--workers", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    assert up.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(up.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        while not any("harvest is up" in line for line in lines):
            if up.poll() is not None or time.perf_counter() - started > 300:
                raise SystemExit("harvest up did not come up:\n" + "".join(lines))
            time.sleep(0.05)
        ready_s = time.perf_counter() - started
        print(f"(b) harvest up until 'harvest is up'       {ready_s:6.2f} s")
        token = {"Authorization": "Bearer change-me"}
        began = time.perf_counter()
        response = httpx.get(
            f"http://127.0.0.1:{BENCH_PORT}/api/search", params={"q": QUERIES[0]}, headers=token, timeout=60
        )
        first_s = time.perf_counter() - began
        assert response.status_code == 200, response.text
        print(
            f"(c) first GET /api/search after that       {first_s:6.2f} s wall "
            f"(server: {response.json()['took_ms']:.0f} ms; target < 1 s)"
        )
        remote = []
        for i in range(rounds):
            elapsed, out = harvest("search", QUERIES[i % 3], "-k", "3", env=env)
            assert "answered by the running Harvest API" in out, out
            remote.append(elapsed)
        median = statistics.median(remote)
        print(f"(d) harvest search, harvest up running     median {median:6.2f} s wall (target < 2 s)")
    finally:
        os.killpg(up.pid, signal.SIGINT)
        up.wait(timeout=60)
    speedup = statistics.median(local) / statistics.median(remote)
    print(f"(a)/(d) = {speedup:.1f}x")
    print(
        f"RESULT cli_speedup={speedup:.2f} cli_search_s={statistics.median(remote):.2f} "
        f"cli_search_local_s={statistics.median(local):.2f} first_api_search_s={first_s:.3f} "
        f"up_ready_s={ready_s:.1f}"
    )


if __name__ == "__main__":
    main()
