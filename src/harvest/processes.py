"""Child processes that must not outlive what started them."""

from __future__ import annotations

import contextlib
import os
import signal

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
