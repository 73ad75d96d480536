"""`harvest up` and the demo: the API and workers as child processes of one command, their output merged
into one prefixed log stream, restarted with backoff when they die, and stopped together.

Stopping (Ctrl-C / SIGTERM): every child gets SIGTERM; workers stop their running stages at the next
checkpoint (crawl processes are told to stop, then killed with their browser) and mark them `interrupted`
(they resume at the next start). A child still alive after the workers' grace period, or every child at a
second Ctrl-C, is killed with all its descendants, and the jobs of a killed worker are handed back to the
queue as interrupted, so no pipeline is left "running" and no process is left behind."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

import httpx

from harvest.errors import StoreUnavailableError
from harvest.processes import kill_process_tree
from harvest.settings import Settings, settings_env

logger = logging.getLogger(__name__)

STOP_MARGIN_S = 3.0  # beyond the workers' own stop grace, before `up` kills what is left
RESTART_BACKOFF_MAX_S = 60.0
STABLE_AFTER_S = 30.0  # a child that ran this long was healthy: its restart backoff starts over
MODEL_LOAD_TIMEOUT_S = 180.0  # after the API answers: its query model loads in the background
QUICK_FAILURES = 5  # exits in a row, each soon after its start: stop restarting, report it
_READY = re.compile(r"queue worker (\d+) ready")


@dataclass
class Child:
    name: str
    args: tuple[str, ...]
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    reader: threading.Thread | None = None
    queue_worker_ids: list[int] = field(default_factory=list)
    backoff_s: float = 1.0
    quick_failures: int = 0
    restart_at: float | None = None
    killed: bool = False

    @property
    def is_worker(self) -> bool:
        return self.args[0] == "worker"


def _say(line: str) -> None:
    print(line, flush=True)  # noqa: T201 - the default log stream of `harvest up` is stdout


@dataclass
class Stack:
    settings: Settings
    emit: Callable[[str], None] = _say
    children: list[Child] = field(default_factory=list)
    failure: str | None = None  # set when a child keeps dying at start; `wait` then returns 1

    def __post_init__(self) -> None:
        # the children never start the embedded database themselves: a database the user stops while
        # `up` runs stays stopped (workers wait and reconnect, the API answers 503) until started again
        self.child_settings = self.settings.model_copy(update={"database_autostart": False})
        # pipelines are batch work: on one machine, the API's searches come first
        self.worker_settings = self.child_settings.model_copy(
            update={"worker_nice": 10 if self.settings.worker_nice is None else self.settings.worker_nice}
        )
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    # -- starting ------------------------------------------------------------------------------------
    def start(self, name: str, *args: str) -> Child:
        child = Child(name, args, self._spawn(name, args))
        self._attach(child)
        with self._lock:
            self.children.append(child)
        if self._supervisor is None:
            self._supervisor = threading.Thread(target=self._supervise, daemon=True, name="supervisor")
            self._supervisor.start()
        return child

    def start_api(self, port: int | None = None) -> Child:
        return self.start("api", "api", "serve", *(["--port", str(port)] if port else []))

    def start_workers(self, count: int) -> list[Child]:
        return [self.start(f"worker-{n + 1}" if count > 1 else "worker", "worker") for n in range(count)]

    def serve(self, *, workers: int, port: int | None, api: bool, timeout_s: float = 60) -> str | None:
        """Start workers and/or the API; wait until the API answers, then until it reports ready (its
        query model loaded), so that the first search after "harvest is up" is fast. A model that will not
        load is reported, not waited for forever. Returns the API's base URL."""
        if workers:
            self.start_workers(workers)
        if not api:
            return None
        api_port = port or self.settings.api_port
        child = self.start_api(api_port)
        base = f"http://127.0.0.1:{api_port}"
        started = time.monotonic()
        answered = False
        while time.monotonic() - started < timeout_s + (MODEL_LOAD_TIMEOUT_S if answered else 0):
            if child.process.poll() is not None and child.restart_at is not None:
                raise StoreUnavailableError(
                    f"the API exited at start with code {child.process.returncode} (see its log above)"
                )
            try:
                response = httpx.get(f"{base}/api/health", timeout=2)
                body = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                body = None
            answered = answered or body is not None
            if isinstance(body, dict) and body.get("ready", True):
                return base
            time.sleep(0.3)
        if not answered:
            raise StoreUnavailableError(f"the API did not answer on port {api_port} within {timeout_s:.0f} s")
        self.emit(
            f"the API answers, but its query model is not loaded after {MODEL_LOAD_TIMEOUT_S:.0f} s; "
            "searches will wait for it (see the [api] log)"
        )
        return base

    def _spawn(self, name: str, args: tuple[str, ...]) -> subprocess.Popen[bytes]:
        settings = self.worker_settings if args[0] == "worker" else self.child_settings
        return subprocess.Popen(
            [sys.executable, "-m", "harvest", *args],
            env=settings_env(settings) | {"PYTHONUNBUFFERED": "1", "COLUMNS": "120"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us alone; we stop the children in order
        )

    def _attach(self, child: Child) -> None:
        assert child.process.stdout is not None
        child.reader = threading.Thread(
            target=self._relay, args=(child, child.process.stdout), daemon=True, name=f"log-{child.name}"
        )
        child.reader.start()

    def _relay(self, child: Child, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            if not line:
                continue
            if child.is_worker and (ready := _READY.search(line)):
                child.queue_worker_ids.append(int(ready.group(1)))
            self.emit(f"[{child.name}] {line}")

    # -- supervising ---------------------------------------------------------------------------------
    def exited(self) -> Child | None:
        """A child that died and is not coming back (it kept dying at start)."""
        if self.failure is None:
            return None
        return next((c for c in self.children if c.process.poll() is not None), None)

    def _supervise(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                children = list(self.children)
            for child in children:
                if self._stopping.is_set():
                    return
                self._look_after(child)

    def _look_after(self, child: Child) -> None:
        now = time.monotonic()
        code = child.process.poll()
        if code is None:
            if now - child.started > STABLE_AFTER_S:
                child.backoff_s, child.quick_failures = 1.0, 0
            return
        if child.restart_at is None:  # it has just died
            child.quick_failures = child.quick_failures + 1 if now - child.started < STABLE_AFTER_S else 1
            if child.quick_failures >= QUICK_FAILURES:
                self.failure = (
                    f"{child.name} exited {child.quick_failures} times in a row soon after starting "
                    f"(last exit code {code}); see its log above"
                )
                self.emit(f"[harvest] {self.failure}")
                self._stopping.set()
                return
            self.emit(
                f"[harvest] {child.name} exited with code {code}; restarting in {child.backoff_s:.0f} s"
            )
            if child.is_worker:
                self._hand_back(child, crashed=code)
            child.restart_at = now + child.backoff_s
            child.backoff_s = min(child.backoff_s * 2, RESTART_BACKOFF_MAX_S)
        elif now >= child.restart_at and not self._stopping.is_set():
            if child.reader is not None:
                child.reader.join(timeout=2)
            child.process = self._spawn(child.name, child.args)
            child.started, child.restart_at, child.queue_worker_ids = time.monotonic(), None, []
            self._attach(child)

    def _hand_back(self, child: Child, *, crashed: int | None = None) -> None:
        """The jobs a dead worker held go back to the queue now (not after its heartbeat times out)."""
        from harvest.jobs.recovery import release_jobs

        if not child.queue_worker_ids:
            return
        when = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
        try:
            if crashed is not None:
                refs = release_jobs(
                    self.settings,
                    child.queue_worker_ids,
                    interrupted=False,
                    reason=f"its worker died at {when} (exit code {crashed}); retried",
                )
            else:
                refs = release_jobs(
                    self.settings,
                    child.queue_worker_ids,
                    interrupted=True,
                    reason=f"interrupted at {when}: `harvest up` stopped; it resumes at the next start",
                )
        except Exception as error:  # the database may be what is gone; the heartbeat timeout remains
            self.emit(f"[harvest] could not hand back the jobs of {child.name}: {_first_line(error)}")
            return
        for ref in refs:
            self.emit(f"[harvest] {ref} handed back to the queue")

    # -- waiting and stopping ------------------------------------------------------------------------
    def wait(self) -> int:
        """Until Ctrl-C / SIGTERM (returns 0) or a child that keeps dying (returns 1)."""
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.is_set():
                if self.failure is not None:
                    return 1
                stop.wait(0.5)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)

    def stop(self) -> None:
        """Stop every child (see the module's docstring); a Ctrl-C while waiting kills them at once."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        alive = [c for c in self.children if c.process.poll() is None]
        grace = self.settings.worker_stop_grace_s + STOP_MARGIN_S
        try:
            if alive:
                self.emit(
                    f"[harvest] stopping (running stages are interrupted within {grace:.0f} s and resume "
                    "at the next start; Ctrl-C again stops at once)"
                )
            for child in alive:
                child.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + grace
            for child in alive:
                try:
                    child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    self.emit(f"[harvest] {child.name} did not stop in {grace:.0f} s; killing it")
                    self._kill(child)
        except KeyboardInterrupt:
            self.emit("[harvest] stopping at once")
            for child in alive:
                if child.process.poll() is None:
                    self._kill(child)
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=2)
        for child in self.children:
            if child.is_worker and child.killed:
                self._hand_back(child)
        self.children.clear()

    def _kill(self, child: Child) -> None:
        kill_process_tree(child.process.pid)
        child.process.wait()
        child.killed = True

    def report_interrupted(self) -> list[str]:
        """Lines about the pipelines left interrupted (they resume at the next start)."""
        from harvest.jobs.recovery import interrupted_pipelines

        try:
            refs = interrupted_pipelines(self.settings)
        except Exception as error:
            return [f"could not list interrupted pipelines: {_first_line(error)}"]
        return [
            f"{ref} is interrupted; it resumes at the next `harvest up` or `harvest worker` "
            f"(`harvest pipelines cancel {ref.pipeline_run_id}` drops it)"
            for ref in refs
        ]


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
