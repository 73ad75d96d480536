"""Client of the embeddings service (OpenAI-style /v1/embeddings), with batching and retries."""

from __future__ import annotations

import base64
import logging
from typing import Any

import httpx
import numpy as np
from tenacity import RetryError, retry, retry_if_exception, stop_after_attempt, wait_exponential

from harvest.embeddings.encoder import Embeddings
from harvest.errors import InvalidInputError, StoreUnavailableError

logger = logging.getLogger(__name__)

REQUEST_INPUTS = 256
ATTEMPTS = 4


class EmbeddingsUnavailableError(StoreUnavailableError):
    """The embeddings service did not answer (after retries)."""


def _retryable(error: BaseException) -> bool:
    if isinstance(error, httpx.TransportError):
        return True
    return isinstance(error, httpx.HTTPStatusError) and error.response.status_code >= 500


class ServiceEncoder:
    def __init__(self, url: str, model: str, *, token: str | None = None, timeout_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.name = model
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)
        self._dimension: int | None = None

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.encode(["dimension probe"]).vectors.shape[1])
        return self._dimension

    def encode(self, texts: list[str]) -> Embeddings:
        vectors: list[np.ndarray] = []
        counts: list[int] = []
        truncated = 0
        for start in range(0, len(texts), REQUEST_INPUTS):
            part = self._post(texts[start : start + REQUEST_INPUTS])
            vectors.append(part.vectors)
            counts.extend(part.token_counts)
            truncated += part.truncated
        if not vectors:
            return Embeddings(np.zeros((0, self._dimension or 0), dtype=np.float32), [], 0)
        stacked = np.vstack(vectors)
        self._dimension = int(stacked.shape[1])
        return Embeddings(stacked, counts, truncated)

    def _post(self, texts: list[str]) -> Embeddings:
        try:
            body = self._request({"input": texts, "model": self.name, "encoding_format": "base64"})
        except RetryError as error:
            cause = error.last_attempt.exception()
            raise EmbeddingsUnavailableError(
                f"the embeddings service at {self.url} (HARVEST_EMBEDDINGS_URL) failed "
                f"{ATTEMPTS} times: {cause}"
            ) from cause
        except httpx.HTTPStatusError as error:
            detail = _error_message(error.response)
            if error.response.status_code in (401, 403):
                raise EmbeddingsUnavailableError(
                    f"the embeddings service at {self.url} refused the token "
                    f"(HARVEST_EMBEDDINGS_TOKEN): {detail}"
                ) from error
            raise InvalidInputError(f"the embeddings service refused the request: {detail}") from error
        data = sorted(body["data"], key=lambda item: item["index"])
        vectors = np.vstack(
            [np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4") for item in data]
        )
        usage = body.get("usage", {})
        return Embeddings(
            vectors.astype(np.float32),
            list(usage.get("input_tokens", [])) or [0] * len(texts),
            int(usage.get("truncated_inputs", 0)),
        )

    @retry(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential(multiplier=0.25, max=4),
    )
    def _request(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/v1/embeddings", json=payload)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.http.close()


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except Exception:
        return f"HTTP {response.status_code}"
