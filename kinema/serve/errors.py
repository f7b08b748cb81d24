"""Every error the API returns, in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

Contract
- `ApiError(status, message, param=, code=, type=, headers=)` raised anywhere in a route becomes
  that response. Helpers name the common cases: `bad_request` (400 invalid_request_error),
  `not_found` (404), `unauthorized` (401), `rate_limited` (429 with Retry-After), `too_large` (413).
- `install(app)` maps FastAPI's own errors into the same shape: request validation (422 in
  FastAPI) becomes a 400 naming the parameter; unknown routes 404; wrong methods 405; anything
  unexpected a 500 `server_error` whose message hides the traceback (which is logged).
- A moderation refusal is a 400 with code "moderation_blocked" and, beside the standard fields,
  `category` (violence, sexual, hate, real_person, copyright).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("kinema.serve")


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error", headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type
        self.headers, self.extra = headers or {}, extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code,
                          **self.extra}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_request(message: str, param: str | None = None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def not_found(video_id: str) -> ApiError:
    return ApiError(404, f"no video found with id {video_id!r}", param="video_id", code="video_not_found")


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def rate_limited(message: str, retry_after: float, code: str = "rate_limit_exceeded") -> ApiError:
    return ApiError(429, message, code=code, type="rate_limit_error",
                    headers={"Retry-After": str(max(1, math.ceil(retry_after)))})


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is larger than this server's limit of {limit} bytes "
                         f"({limit / 2**20:.1f} MiB)", code="request_too_large")


def moderation_blocked(error: Exception, param: str | None = "prompt") -> ApiError:
    """A `kinema.safety.RefusedError` as a 400, with its category (None for a withheld video)."""
    verdict = getattr(error, "verdict", None)
    category = getattr(verdict, "category", None)
    return ApiError(400, str(error), param=param, code="moderation_blocked", extra={"category": category})


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
    param = location[0] if location else None
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "missing":
        return f"missing required parameter {param!r}", param
    return (f"invalid value for {param!r}: {message}" if param else message), param


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(error)
        return bad_request(message, param).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            body = ApiError(404, f"unknown request URL: {request.method} {request.url.path}", code="unknown_url")
        elif error.status_code == 405:
            body = ApiError(405, f"method {request.method} is not allowed on {request.url.path}", code="method_not_allowed")
        else:
            body = ApiError(error.status_code, str(error.detail), code=None)
        response = body.response()
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return ApiError(500, "the server had an error while processing your request; it has been logged",
                        type="server_error", code="server_error").response()
