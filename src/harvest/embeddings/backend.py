"""Which encoder a stage uses: the embeddings service when HARVEST_EMBEDDINGS_URL is set, else in-process."""

from __future__ import annotations

from typing import Protocol

from harvest.embeddings.encoder import Embeddings, load_encoder
from harvest.settings import Settings


class Encoder(Protocol):
    name: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: list[str]) -> Embeddings: ...


def get_encoder(settings: Settings, model: str | None = None) -> Encoder:
    name = model or settings.embedding_model
    if settings.embeddings_url:
        from harvest.embeddings.client import ServiceEncoder

        token = settings.embeddings_token.get_secret_value() if settings.embeddings_token else None
        return ServiceEncoder(
            settings.embeddings_url, name, token=token, timeout_s=max(settings.connect_timeout_s, 60)
        )
    return load_encoder(
        name,
        settings.embedding_device,
        settings.embedding_threads,
        settings.embedding_batch_size,
        settings.embedding_max_tokens,
    )
