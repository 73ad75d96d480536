"""Micro-batching for synchronous callers (API threads): requests that arrive while the encoder is busy, or
within a few milliseconds of each other, are encoded in one batch per model."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np


class Batcher:
    def __init__(
        self, encode: Callable[[str, list[str]], np.ndarray], *, window_s: float = 0.002, max_batch: int = 256
    ) -> None:
        self.encode = encode
        self.window_s = window_s
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[tuple[str, list[str], Future[np.ndarray]]] = []
        self._leader = False

    def submit(self, key: str, texts: list[str]) -> np.ndarray:
        future: Future[np.ndarray] = Future()
        with self._lock:
            self._pending.append((key, texts, future))
            lead = not self._leader
            if lead:
                self._leader = True
        if lead:
            self._lead()
        return future.result()

    def _lead(self) -> None:
        """Encode batches until nothing waits; followers only wait for their future."""
        time.sleep(self.window_s)
        while True:
            with self._lock:
                if not self._pending:
                    self._leader = False
                    return
                key = self._pending[0][0]
                batch, rest, size = [], [], 0
                for item in self._pending:
                    if item[0] == key and (size == 0 or size + len(item[1]) <= self.max_batch):
                        batch.append(item)
                        size += len(item[1])
                    else:
                        rest.append(item)
                self._pending = rest
            texts = [text for _, group, _ in batch for text in group]
            try:
                vectors = self.encode(key, texts)
            except BaseException as error:
                for _, _, future in batch:
                    future.set_exception(error)
                continue
            offset = 0
            for _, group, future in batch:
                future.set_result(vectors[offset : offset + len(group)])
                offset += len(group)
