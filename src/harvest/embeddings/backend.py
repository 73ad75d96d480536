"""Which encoder a stage uses: the embeddings service when HARVEST_EMBEDDINGS_URL is set, else in-process
with the backend HARVEST_EMBEDDING_BACKEND names (PyTorch, or ONNX Runtime fp32/int8)."""

from __future__ import annotations

from typing import Protocol

from harvest.embeddings.encoder import Embeddings, load_encoder
from harvest.embeddings.onnx_encoder import INT8_SUFFIX
from harvest.settings import Settings


class Encoder(Protocol):
    name: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: list[str]) -> Embeddings: ...


def get_encoder(settings: Settings, model: str | None = None) -> Encoder:
    """The encoder for `model` (default HARVEST_EMBEDDING_MODEL). A name ending in `#onnx-int8` (how int8
    vectors are stored) always gets the int8 ONNX encoder, so queries match the vectors they search."""
    name = model or settings.embedding_model
    backend = settings.embedding_backend
    if name.endswith(INT8_SUFFIX):
        name, backend = name.removesuffix(INT8_SUFFIX), "onnx-int8"
    if settings.embeddings_url:
        from harvest.embeddings.client import ServiceEncoder

        token = settings.embeddings_token.get_secret_value() if settings.embeddings_token else None
        return ServiceEncoder(
            settings.embeddings_url, name, token=token, timeout_s=max(settings.connect_timeout_s, 60)
        )
    if backend in {"onnx", "onnx-int8"}:
        from harvest.embeddings.onnx_encoder import load_onnx_encoder

        return load_onnx_encoder(
            name,
            settings.data_dir / "models",
            backend == "onnx-int8",
            settings.embedding_threads,
            settings.embedding_batch_size,
            settings.embedding_max_tokens,
            longest_chunk(settings),
        )
    return load_encoder(
        name,
        settings.embedding_device,
        settings.embedding_threads,
        settings.embedding_batch_size,
        settings.embedding_max_tokens,
        longest_chunk(settings),
    )


def longest_chunk(settings: Settings) -> int:
    """The most tokens a chunk has (process.chunking): the budget, plus a page's last bit too small to
    stand alone that joined the chunk before it, plus one where a token window splits a word."""
    return settings.chunk_max_tokens + settings.chunk_min_tokens + 1
