"""What one client may ask of the API: a body size limit for every request (413), and rate limits on the
expensive endpoints (429 with Retry-After). Both are settings: HARVEST_API_MAX_BODY_MB and
HARVEST_API_RATE_LIMITS ("search=30/s,crawl=10/min,…"; 0 or off disables a group).

Any router can protect its expensive endpoints with `Depends(rate_limit("train"))`; a group missing from
the setting is not limited."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request

from harvest.errors import HarvestError
from harvest.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RateLimitedError(HarvestError):
    """The client asked too often; `retry_after_s` says when it may ask again."""

    default_message = "too many requests"
    exit_code = 75  # EX_TEMPFAIL
    http_status = 429

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TokenBuckets:
    """Per (group, client) token buckets: `rate` requests per second on average, bursts up to `burst`."""

    MAX_CLIENTS = 10_000

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, group: str, client: str, rate: float, burst: float) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens, updated = self._buckets.get((group, client), (burst, now))
            tokens = min(burst, tokens + (now - updated) * rate)
            if tokens >= 1:
                self._buckets[(group, client)] = (tokens - 1, now)
                return 0.0
            self._buckets[(group, client)] = (tokens, now)
            if len(self._buckets) > self.MAX_CLIENTS:
                self._forget_idle(now)
            return (1 - tokens) / rate

    def _forget_idle(self, now: float) -> None:
        # a bucket idle for a minute is (nearly) full again: dropping it changes nothing
        for key, (_, updated) in list(self._buckets.items()):
            if now - updated > 60:
                del self._buckets[key]


_buckets_lock = threading.Lock()


def _buckets(request: Request) -> TokenBuckets:
    state = request.app.state
    with _buckets_lock:
        if not hasattr(state, "rate_buckets"):
            state.rate_buckets = TokenBuckets()
    buckets: TokenBuckets = state.rate_buckets
    return buckets


def rate_limit(group: str) -> Callable[[Request], None]:
    """A dependency that limits this endpoint's group per client (by address) as the settings say."""

    def check(request: Request) -> None:
        settings: Settings = request.app.state.settings
        limit = settings.api_rate_limits.get(group)
        if not limit:
            return
        count, window_s = limit
        client = request.client.host if request.client else "unknown"
        wait = _buckets(request).take(group, client, count / window_s, count)
        if wait > 0:
            raise RateLimitedError(
                f"too many {group} requests from this client (at most {count:g} per {_unit(window_s)}); "
                f"retry in {wait:.1f} s",
                retry_after_s=wait,
            )

    check.__name__ = f"rate_limit_{group}"
    return check


def _unit(window_s: float) -> str:
    return {1.0: "second", 60.0: "minute", 3600.0: "hour"}.get(window_s, f"{window_s:g} s")


def retry_after_header(error: RateLimitedError) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(error.retry_after_s)))}


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` gets 413 with the API's error body, whether it
    declares its length or streams it in chunks (then the app's own answer is replaced)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                if not started:
                    started = True
                    await self._refuse(send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "too_large",
                    "message": f"the request body is over the limit of {self.max_bytes} bytes "
                    "(HARVEST_API_MAX_BODY_MB)",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
