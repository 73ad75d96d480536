"""Duplicate detection: exact (hash of normalised text) and near (MinHash + LSH bands, datasketch).

LSH bands live in PostgreSQL (`document_bands`), so candidates are found by an index lookup across all
sources and runs, not by an in-memory index rebuilt on every run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param

NUM_PERM = 128
SHINGLE_WORDS = 5
MIN_WORDS_FOR_NEAR = 20  # below this, MinHash of 5-word shingles says little: exact matching only
_WORD = re.compile(r"\w+", re.UNICODE)


def normalized_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def text_hash(words: list[str]) -> str:
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    text_hash: str
    signature: np.ndarray | None  # MinHash hash values (uint64), None for very short texts

    @property
    def signature_bytes(self) -> bytes | None:
        return None if self.signature is None else self.signature.astype("<u8").tobytes()


def fingerprint(text: str) -> Fingerprint:
    words = normalized_words(text)
    digest = text_hash(words)
    if len(words) < MIN_WORDS_FOR_NEAR:
        return Fingerprint(digest, None)
    shingles = {
        " ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(len(words) - SHINGLE_WORDS + 1)
    }
    minhash = MinHash(num_perm=NUM_PERM, seed=1)
    minhash.update_batch(list(shingles))
    return Fingerprint(digest, minhash.hashvalues.copy())


def signature_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u8")


@lru_cache(maxsize=8)
def band_layout(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) minimising false positives + negatives at `threshold` (datasketch's own)."""
    bands, rows = _optimal_param(threshold, NUM_PERM, 0.5, 0.5)
    return int(bands), int(rows)


def band_hashes(signature: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """(band number, signed 64-bit hash of the band's rows) for each LSH band."""
    bands, rows = band_layout(threshold)
    result = []
    for band in range(bands):
        chunk = signature[band * rows : (band + 1) * rows].astype("<u8").tobytes()
        value = int.from_bytes(hashlib.blake2b(chunk, digest_size=8).digest(), "big", signed=True)
        result.append((band, value))
    return result


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two MinHash signatures."""
    return float(np.count_nonzero(a == b)) / len(a)
