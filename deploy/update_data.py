#!/usr/bin/env python3
"""Run sources' pipelines on a deployed Harvest through its API, wait, and fail loudly.

    HARVEST_API_TOKEN=… python3 deploy/update_data.py --url https://harvest.example.org [--source NAME …]

What the `data-update` workflow runs on a schedule; it works from any machine with Python 3.11 and
nothing else installed (standard library only). For every source (or the ones named) it queues the
pipeline (crawl → process → entities → embed; a run already waiting or running is followed instead),
prints each stage as it ends, and waits for all of them. The exit code is 0 only when every pipeline
succeeded; otherwise one line per failure names the source, the pipeline run, the stage that failed and
its message (as a GitHub Actions `::error::` annotation when run there, plus a job summary table).

Exit codes: 0 all succeeded · 1 a pipeline failed, was cancelled or did not finish in time · 2 bad usage,
the API unreachable or refusing a request. The token is read from the environment only (never argv).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

LIVE = ("queued", "running")
TOKEN_VARIABLE = "HARVEST_API_TOKEN"  # noqa: S105 - the name of the variable, not a token


class ApiError(Exception):
    """The API could not be reached or refused a request: one readable line."""


@dataclass
class Api:
    base: str
    token: str
    timeout_s: float = 30.0

    def call(self, method: str, path: str) -> Any:
        url = self.base.rstrip("/") + path
        request = urllib.request.Request(url, method=method)  # noqa: S310 - the URL is checked in main()
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as error:
            raise ApiError(f"{method} {path}: HTTP {error.code} {_error_message(error)}") from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(f"cannot reach the API at {self.base}: {reason}") from error
        return json.loads(body) if body else None


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        detail = json.loads(error.read())["error"]["message"]
    except (ValueError, KeyError, TypeError):
        detail = error.reason
    if error.code == 401:
        return f"{detail} (check the {TOKEN_VARIABLE} secret: it must be the deployment's API token)"
    return str(detail)


@dataclass
class Followed:
    source: str
    run: dict[str, Any]
    reported: set[str] = field(default_factory=set)

    @property
    def done(self) -> bool:
        return self.run["status"] not in LIVE


def _counts(counts: dict[str, Any]) -> str:
    shown = {
        k: v
        for k, v in counts.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and v and k not in {"model_id", "seconds"}
    }
    return " ".join(f"{k}={v}" for k, v in shown.items())


def failing_stage(run: dict[str, Any]) -> dict[str, Any] | None:
    """The stage to blame: the first that failed, else the first that did not succeed."""
    stages = run.get("stages", [])
    failed = [s for s in stages if s["status"] == "failed"]
    if failed:
        return dict(failed[0])
    unfinished = [s for s in stages if s["status"] != "succeeded"]
    return dict(unfinished[0]) if unfinished else None


def describe_failure(run: dict[str, Any], *, timed_out: bool = False) -> str:
    stage = failing_stage(run)
    where = f"at stage {stage['stage']}" if stage else "before any stage"
    what = "did not finish in time" if timed_out else run["status"]
    message = (stage or {}).get("message") or run.get("message") or "no message"
    tries = f" after {stage['attempts']} attempt(s)" if stage and stage.get("attempts") else ""
    return f"source {run['source']}: pipeline run {run['id']} {what} {where}{tries}: {message}"


def report_stages(followed: Followed, emit: Any) -> None:
    for stage in followed.run["stages"]:
        key = f"{stage['stage']}:{stage['status']}"
        if stage["status"] in ("succeeded", "failed", "cancelled") and key not in followed.reported:
            followed.reported.add(key)
            counts = _counts(stage.get("counts") or {})
            emit(
                f"{followed.source}: {stage['stage']} {stage['status']} in {stage['elapsed_s']:.1f} s"
                + (f" ({counts})" if counts else "")
                + (f": {stage['message']}" if stage["status"] != "succeeded" and stage.get("message") else "")
            )


def run_all(api: Api, sources: list[str], timeout_s: float, poll_s: float, emit: Any) -> list[Followed]:
    """Queue every source's pipeline, then follow them all until they end or the time is up."""
    followed = []
    for source in sources:
        run = api.call("POST", f"/api/sources/{urllib.parse.quote(source, safe='')}/run")
        emit(f"{source}: pipeline run {run['id']} {run['status']} (trigger {run['trigger']})")
        followed.append(Followed(source, run))
    deadline = time.monotonic() + timeout_s
    while True:
        for item in followed:
            if not item.done:
                item.run = api.call("GET", f"/api/pipelines/{item.run['id']}")
            report_stages(item, emit)
        if all(item.done for item in followed) or time.monotonic() >= deadline:
            return followed
        time.sleep(poll_s)


def _annotate(message: str) -> str:
    # GitHub turns `::error::…` lines into annotations; escape what it would read as syntax
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::error title=data update failed::{escaped}"


def _summary(followed: list[Followed]) -> str:
    lines = ["| source | run | status | stages |", "|---|---|---|---|"]
    for item in followed:
        stages = " → ".join(f"{s['stage']}: {s['status']}" for s in item.run["stages"])
        lines.append(f"| {item.source} | {item.run['id']} | {item.run['status']} | {stages} |")
    return "\n".join(lines) + "\n"


def _parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text[-1:] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 30m or 2h") from None


def all_source_names(api: Api) -> list[str]:
    """Every source's name, following the API's pages."""
    names: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = api.call("GET", f"/api/sources?limit=100&offset={offset}")
        names.extend(spec["name"] for spec in page["items"])
        offset = page.get("next_offset")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=f"Run pipelines on a deployed Harvest API and wait for them (token: ${TOKEN_VARIABLE}).",
    )
    parser.add_argument("--url", required=True, help="The deployment, e.g. https://harvest.example.org")
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        help="A source to update (repeat, or comma-separated); default: every source",
    )
    parser.add_argument("--timeout", type=_parse_duration, default=_parse_duration("5h"), help="e.g. 90m")
    parser.add_argument("--poll", type=_parse_duration, default=5.0, help="seconds between status reads")
    args = parser.parse_args(argv)

    def emit(line: str) -> None:
        print(line, flush=True)  # noqa: T201 - this script's output

    def fail(line: str, code: int) -> int:
        print(f"error: {line}", file=sys.stderr, flush=True)  # noqa: T201
        if os.environ.get("GITHUB_ACTIONS") == "true":
            print(_annotate(line), flush=True)  # noqa: T201
        return code

    token = os.environ.get(TOKEN_VARIABLE, "")
    if not token:
        return fail(f"set {TOKEN_VARIABLE} to the deployment's API token (a repository secret)", 2)
    if urllib.parse.urlsplit(args.url).scheme not in ("http", "https"):
        return fail(f"--url must be an http(s) URL, not {args.url!r}", 2)
    api = Api(args.url, token)
    try:
        health = api.call("GET", "/api/health")
        emit(f"Harvest {health.get('version', '?')} at {args.url}: {health.get('status')}")
        sources = [name.strip() for value in args.source for name in value.split(",") if name.strip()]
        if not sources:
            sources = all_source_names(api)
        if not sources:
            return fail("the deployment has no sources: nothing to update", 1)
        followed = run_all(api, sources, args.timeout, args.poll, emit)
    except ApiError as error:
        return fail(str(error), 2)

    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as summary:  # noqa: PTH123
            summary.write("## Data update\n\n" + _summary(followed))
    failures = [
        describe_failure(item.run, timed_out=not item.done)
        for item in followed
        if item.run["status"] != "succeeded"
    ]
    for line in failures:
        fail(line, 1)
    if failures:
        return 1
    emit(f"all {len(followed)} pipeline(s) succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
