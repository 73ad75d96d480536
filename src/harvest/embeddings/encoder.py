"""Sentence-transformers models on PyTorch: CUDA (half precision, big batches) when present, else CPU.

Outputs are L2-normalised float32. Inputs longer than the model's token limit are truncated by the
model and *counted*, so callers can report it. Results come back in input order.

Batches are cut by length (`length_batches`): a batch is padded to its longest input, so on CPU, where
compute grows with padded tokens, inputs are sorted by token count and grouped so that little padding
is computed. sentence-transformers sorts by characters within one `encode` call only, which with the
64-256 inputs a service request or a stage batch brings leaves batches with ~25-100 % padding.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from harvest.errors import ConfigError
from harvest.model_files import model_dir

logger = logging.getLogger(__name__)

CPU_BATCH = 64
CUDA_BATCH = 256
# What one more forward pass costs on CPU, in padded tokens' worth of compute (Python, module dispatch
# and small-matrix inefficiency per pass); measured on MiniLM-L6 with 2 threads, see bench/RESULTS.md.
CPU_PASS_TOKENS = 128


def length_batches(lengths: list[int], max_batch: int, pass_tokens: int) -> list[list[int]]:
    """Indices of `lengths` in batches of at most `max_batch`, costing the least padded work.

    Sorted longest first, a batch costs (its size x its first length) + `pass_tokens`; the cheapest
    cut of the sorted list into consecutive batches is found exactly (dynamic programming, O(n x
    max_batch)), so similar lengths share a batch and a lone outlier gets its own.
    """
    order = np.argsort([-n for n in lengths], kind="stable")
    ordered = np.asarray(lengths, dtype=np.int64)[order]
    count = len(ordered)
    best = np.zeros(count + 1, dtype=np.int64)
    cut = np.zeros(count + 1, dtype=np.int64)
    for end in range(1, count + 1):
        starts = np.arange(max(0, end - max_batch), end)
        costs = best[starts] + (end - starts) * ordered[starts] + pass_tokens
        pick = int(np.argmin(costs))
        best[end], cut[end] = costs[pick], starts[pick]
    batches: list[list[int]] = []
    end = count
    while end > 0:
        start = int(cut[end])
        batches.append([int(i) for i in order[start:end]])
        end = start
    batches.reverse()
    return batches


@dataclass(frozen=True)
class Embeddings:
    vectors: np.ndarray  # (n, dimension) float32, rows of unit length
    token_counts: list[int]  # of each input before truncation
    truncated: int  # how many inputs were longer than the model's limit (and were cut)

    @property
    def total_tokens(self) -> int:
        return sum(self.token_counts)


class TorchEncoder:
    """One loaded model; `encode` is thread-safe (calls are serialised: one forward pass at a time)."""

    def __init__(
        self,
        name: str,
        *,
        device: str = "auto",
        threads: int = 0,
        batch_size: int = 0,
        max_tokens: int = 0,
        chunk_tokens: int = 0,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network at run time
        import torch
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.device = (
            "cuda"
            if device == "auto" and torch.cuda.is_available()
            else ("cpu" if device == "auto" else device)
        )
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("HARVEST_EMBEDDING_DEVICE=cuda but PyTorch sees no CUDA device")
        if self.device == "cpu" and threads:
            torch.set_num_threads(threads)
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call] # a weights-loading bar on every start is noise
        path = model_dir(name)
        try:
            self.model = SentenceTransformer(str(path), device=self.device)
        except Exception as error:
            raise ConfigError(f"cannot load embedding model {name!r} from {path}: {error}") from error
        if self.device == "cuda":
            # bf16 where the GPU supports it (wider range), else fp16: both halve memory and time
            self.model = self.model.to(torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
        default = int(self.model.max_seq_length or 512)
        # from the model's files: the loaded tokenizer reports the stated limit, not its own
        positions = position_limit(
            model_settings(path / "config.json").get("max_position_embeddings"),
            model_settings(path / "tokenizer_config.json").get("model_max_length"),
            default,
        )
        self.max_tokens = input_limit(default, positions, max_tokens, chunk_tokens)
        self.model.max_seq_length = self.max_tokens
        self.batch_size = batch_size or (CUDA_BATCH if self.device == "cuda" else CPU_BATCH)
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self._lock = threading.Lock()
        logger.info(
            "loaded embedding model", extra={"model": name, "device": self.device, "dim": self.dimension}
        )

    def token_counts(self, texts: list[str]) -> list[int]:
        tokenizer = self.model.tokenizer
        encoded = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def encode(self, texts: list[str]) -> Embeddings:
        if not texts:
            return Embeddings(np.zeros((0, self.dimension), dtype=np.float32), [], 0)
        counts = self.token_counts(texts)
        if self.device == "cuda":  # big batches keep a GPU busy; padding is cheap there
            batches = [list(range(len(texts)))]
        else:
            lengths = [min(n, self.max_tokens) for n in counts]
            batches = length_batches(lengths, self.batch_size, CPU_PASS_TOKENS)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        with self._lock:
            for batch in batches:
                vectors[batch] = self.model.encode(
                    [texts[i] for i in batch],
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        truncated = sum(1 for n in counts if n > self.max_tokens)
        return Embeddings(vectors, counts, truncated)


@lru_cache(maxsize=4)
def load_encoder(
    name: str,
    device: str = "auto",
    threads: int = 0,
    batch_size: int = 0,
    max_tokens: int = 0,
    chunk_tokens: int = 0,
) -> TorchEncoder:
    """A process-wide encoder per configuration (loading a model takes seconds)."""
    return TorchEncoder(
        name,
        device=device,
        threads=threads,
        batch_size=batch_size,
        max_tokens=max_tokens,
        chunk_tokens=chunk_tokens,
    )


# The chunk budget counts a chunk's own tokens; the model also reads [CLS] … [SEP] (<s> … </s>) around it
SPECIAL_TOKENS = 2


def model_settings(path: Path) -> dict[str, object]:
    """A model file's settings (config.json, tokenizer_config.json); {} when the model has no such file."""
    if not path.exists():
        return {}
    found = json.loads(path.read_text())
    return found if isinstance(found, dict) else {}


def position_limit(positions: object, tokenizer_limit: object, default: int) -> int:
    """The longest input the model's position embeddings (and its tokenizer) allow."""
    limits = [int(n) for n in (positions, tokenizer_limit) if isinstance(n, int) and 0 < n < 100_000]
    return min(limits) if limits else default


def input_limit(default: int, positions: int, max_tokens: int, chunk_tokens: int) -> int:
    """How many tokens the model reads of each input: HARVEST_EMBEDDING_MAX_TOKENS when set, else the
    larger of the model's stated limit and the longest chunk (`backend.longest_chunk`, from
    HARVEST_CHUNK_MAX_TOKENS), so that a packed chunk is read whole; never more than its position
    embeddings cover. (all-MiniLM-L6-v2 states 256 and
    has 512 positions: with 320-token chunks it reads 320, measured as good as or better than cutting
    them at 256 on both dev sets, bench/RESULTS.md.)"""
    wanted = max_tokens or max(default, chunk_tokens + SPECIAL_TOKENS if chunk_tokens else 0)
    return max(1, min(wanted, positions))
