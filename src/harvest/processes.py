"""Child processes that must not outlive what started them."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from typing import NoReturn

import psutil


def kill_process_tree(pid: int) -> None:
    """SIGKILL a process, its process group (when it leads one) and every descendant: a crawl's Chromium
    runs in a process group of its own, so the group alone is not enough."""
    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
    for process in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def exit_now(code: int) -> NoReturn:
    """End a long-running service process once its work is over and recorded: flush what it printed
    and logged, and skip the interpreter's teardown, which takes seconds once PyTorch is loaded (and a
    supervisor waiting for it to stop would kill it)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
