"""The embeddings service: an OpenAI-compatible HTTP API around one encoder, with micro-batching.

Runs on its own (`harvest embeddings serve`, e.g. on a GPU host) and depends only on the embeddings
package. Concurrent requests that arrive within a few milliseconds are encoded in one forward pass, so
the device stays busy under many small requests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from harvest.embeddings.encoder import Embeddings

logger = logging.getLogger(__name__)


class EmbeddingRequest(BaseModel):
    input: str | list[str]
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None
    dimensions: int | None = Field(default=None, description="Not supported: must equal the model's.")


class MicroBatcher:
    """Collects requests for up to `window_s` (or `max_batch` texts) and encodes them together."""

    def __init__(
        self, encode: Callable[[list[str]], Embeddings], *, window_s: float = 0.004, max_batch: int = 512
    ) -> None:
        self.encode = encode
        self.window_s = window_s
        self.max_batch = max_batch
        self.queue: asyncio.Queue[tuple[list[str], asyncio.Future[Embeddings]]] = asyncio.Queue()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder")
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        self.executor.shutdown(wait=False)

    async def submit(self, texts: list[str]) -> Embeddings:
        future: asyncio.Future[Embeddings] = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            total = len(items[0][0])
            deadline = loop.time() + self.window_s
            while total < self.max_batch and (remaining := deadline - loop.time()) > 0:
                try:
                    item = await asyncio.wait_for(self.queue.get(), remaining)
                except TimeoutError:
                    break
                items.append(item)
                total += len(item[0])
            texts = [text for request_texts, _ in items for text in request_texts]
            try:
                result = await loop.run_in_executor(self.executor, self.encode, texts)
            except Exception as error:  # every waiting request gets the failure, the loop goes on
                for _, future in items:
                    if not future.done():
                        future.set_exception(error)
                continue
            offset = 0
            for request_texts, future in items:
                n = len(request_texts)
                counts = result.token_counts[offset : offset + n]
                part = Embeddings(result.vectors[offset : offset + n], counts, 0)
                if not future.done():
                    future.set_result(part)
                offset += n


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


def create_app(
    encoder: Any,
    *,
    token: str | None = None,
    max_inputs: int = 2048,
    max_body_bytes: int = 8 * 1024 * 1024,
    window_s: float = 0.004,
) -> FastAPI:
    """The service for one loaded encoder (anything with name, dimension, max_tokens, encode)."""
    batcher = MicroBatcher(encoder.encode, window_s=window_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="Harvest embeddings", version="1", lifespan=lifespan)

    @app.middleware("http")
    async def limits_and_auth(request: Request, call_next: Callable[[Request], Any]) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            return _error(413, f"request body of {length} bytes is over the limit of {max_body_bytes}")
        if token and request.url.path.startswith("/v1/"):
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _error(401, "missing or wrong bearer token", "authentication_error")
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"{where}: {first.get('msg', 'invalid')}")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": encoder.name,
            "dimension": encoder.dimension,
            "device": getattr(encoder, "device", "unknown"),
        }

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": encoder.name,
                    "object": "model",
                    "owned_by": "harvest",
                    "dimension": encoder.dimension,
                    "max_tokens": encoder.max_tokens,
                }
            ],
        }

    @app.post("/v1/embeddings")
    async def embeddings(body: EmbeddingRequest) -> Any:
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not texts:
            return _error(422, "input: give at least one string")
        if len(texts) > max_inputs:
            return _error(413, f"input has {len(texts)} strings; the limit is {max_inputs} per request")
        if body.model and body.model != encoder.name:
            return _error(
                404,
                f"model {body.model!r} is not served here; this service serves {encoder.name!r}",
                "not_found_error",
            )
        if body.dimensions is not None and body.dimensions != encoder.dimension:
            return _error(422, f"dimensions: this model returns {encoder.dimension}")
        started = time.perf_counter()
        result = await batcher.submit(texts)
        truncated = sum(1 for n in result.token_counts if n > encoder.max_tokens)
        used = [min(n, encoder.max_tokens) for n in result.token_counts]
        data = []
        for index, vector in enumerate(result.vectors):
            value: Any = (
                base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
                if body.encoding_format == "base64"
                else vector.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": value})
        tokens = sum(used)
        logger.debug(
            "embedded", extra={"inputs": len(texts), "ms": round((time.perf_counter() - started) * 1000)}
        )
        return {
            "object": "list",
            "model": encoder.name,
            "data": data,
            "usage": {
                "prompt_tokens": tokens,
                "total_tokens": tokens,
                "input_tokens": result.token_counts,
                "truncated_inputs": truncated,
            },
        }

    return app
