"""`harvest up` and the demo: the API and workers as child processes of one command, their output merged
into one prefixed log stream, stopped together (SIGTERM, then SIGKILL after a grace period)."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from harvest.settings import Settings, settings_env

logger = logging.getLogger(__name__)
STOP_GRACE_S = 30.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    reader: threading.Thread | None = None


@dataclass
class Stack:
    settings: Settings
    emit: Callable[[str], None] = field(default=lambda line: print(line, flush=True))  # noqa: T201
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Child:
        process = subprocess.Popen(
            [sys.executable, "-m", "harvest", *args],
            env=settings_env(self.settings) | {"PYTHONUNBUFFERED": "1", "COLUMNS": "120"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
        )
        child = Child(name, process)
        assert process.stdout is not None
        child.reader = threading.Thread(
            target=self._relay, args=(name, process.stdout), daemon=True, name=f"log-{name}"
        )
        child.reader.start()
        self.children.append(child)
        return child

    def start_api(self, port: int | None = None) -> Child:
        return self.start("api", "api", "serve", *(["--port", str(port)] if port else []))

    def start_workers(self, count: int) -> list[Child]:
        return [self.start(f"worker-{n + 1}" if count > 1 else "worker", "worker") for n in range(count)]

    def _relay(self, name: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            if line:
                self.emit(f"[{name}] {line}")

    def exited(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def wait(self) -> int:
        """Until Ctrl-C / SIGTERM (returns 0) or a child dies (returns 1)."""
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.is_set():
                dead = self.exited()
                if dead is not None:
                    self.emit(f"[harvest] {dead.name} exited with code {dead.process.returncode}; stopping")
                    return 1
                stop.wait(0.5)
            return 0
        except KeyboardInterrupt:
            return 0
        finally:
            signal.signal(signal.SIGTERM, previous)

    def stop(self) -> None:
        for child in self.children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in self.children:
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.emit(f"[harvest] {child.name} did not stop in {STOP_GRACE_S:.0f} s; killing it")
                child.process.kill()
                child.process.wait()
            if child.reader is not None:
                child.reader.join(timeout=2)
        self.children.clear()
