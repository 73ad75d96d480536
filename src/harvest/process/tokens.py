"""Token counts from the embedding model's own tokenizer (Hugging Face `tokenizers`, Rust, batched)."""

from __future__ import annotations

from functools import lru_cache

from tokenizers import Tokenizer

from harvest.errors import ConfigError
from harvest.model_files import model_dir


class TokenCounter:
    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def counts(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def windows(self, text: str, size: int, overlap: int) -> list[str]:
        """Cut a text with no sentence boundary into token windows (character spans of the original)."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        offsets = encoding.offsets
        pieces = []
        step = max(size - overlap, 1)
        for start in range(0, len(offsets), step):
            end = min(start + size, len(offsets))
            pieces.append(text[offsets[start][0] : offsets[end - 1][1]])
            if end == len(offsets):
                break
        return pieces


@lru_cache(maxsize=4)
def token_counter(model: str) -> TokenCounter:
    path = model_dir(model) / "tokenizer.json"
    try:
        return TokenCounter(Tokenizer.from_file(str(path)))
    except Exception as error:
        raise ConfigError(
            f"cannot load the tokenizer of HARVEST_EMBEDDING_MODEL={model!r} from {path}"
        ) from error
