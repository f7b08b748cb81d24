"""API key authentication for every /v1 route: `Authorization: Bearer <key>`, then the rate limit.

Contract: `Auth(store, limiter)` is a FastAPI dependency returning the caller's `ApiKey`. A missing,
malformed, unknown or revoked key is a 401 (`invalid_api_key`); a key over its request rate a 429
(`rate_limit_exceeded`, with Retry-After). Keys are created with `kinema keys create` (only their
SHA-256 is stored, `kinema.serve.store`).
"""

from __future__ import annotations

from fastapi import Request

from kinema.serve.errors import rate_limited, unauthorized
from kinema.serve.limits import RateLimiter
from kinema.serve.store import ApiKey, Store


class Auth:
    def __init__(self, store: Store, limiter: RateLimiter) -> None:
        self.store, self.limiter = store, limiter

    def __call__(self, request: Request) -> ApiKey:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        if not header:
            raise unauthorized("no API key given; send 'Authorization: Bearer <key>' (create one with `kinema keys create NAME`)")
        if scheme.lower() != "bearer" or not secret.strip():
            raise unauthorized("the Authorization header must be 'Bearer <key>'")
        key = self.store.authenticate(secret.strip())
        if key is None:
            raise unauthorized("incorrect or revoked API key; create one with `kinema keys create NAME`")
        wait = self.limiter.check(key.id)
        if wait > 0:
            raise rate_limited(f"rate limit reached: {self.limiter.capacity:.0f} requests a minute per key; "
                               f"retry in {wait:.1f} s", wait)
        return key
