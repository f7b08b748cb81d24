"""Per-key request rate limits and the request body size limit.

Contract
- `RateLimiter(per_minute)`: a token bucket per key, `per_minute` tokens of capacity refilled
  evenly over a minute (bursts up to the minute's budget, then a steady rate). `check(key)`
  returns 0 when the request may go ahead, else the seconds until it may (the Retry-After).
  Buckets live in this process: with N API processes behind one address a key gets up to N times
  the rate (the queue quota, kept in the database, is exact across processes).
- `BodyLimit(app, max_bytes)`: ASGI middleware answering 413 (OpenAI error shape) to any request
  whose Content-Length, or whose streamed body, exceeds `max_bytes`, before the app parses it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kinema.serve.errors import too_large


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute {per_minute} must be at least 1")
        self.capacity, self.rate, self.clock = float(per_minute), per_minute / 60.0, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def check(self, key: str) -> float:
        """Take one token for `key`: 0.0 if granted, else seconds to wait."""
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class BodyLimit:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            if declared >= 0:  # the server enforces Content-Length: the body cannot run longer
                await self.app(scope, receive, send)
                return
        # No (or a malformed) Content-Length: a streamed body. Read it up to the limit, then replay it.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        await too_large(self.max_bytes).response()(scope, receive, send)
