"""The web page of `kinema serve`: one HTML page and its static script and style, no build step.

Contract
- ``router`` (a FastAPI ``APIRouter``) serves ``GET /`` (the page) and ``GET /web/{name}`` for the
  files named in ``ASSETS`` (``app.js``, ``style.css``), read from the ``web/`` folder next to this
  module. Any other name is a 404 in the API's error shape; nothing outside that folder can be read.
- None of these routes needs an API key: the page holds no data. It asks the user for a key once,
  keeps it in the browser's localStorage and sends it as ``Authorization: Bearer`` on every
  ``/v1`` call it makes, as any other API client does (media is fetched the same way, into blob URLs).
- Nothing is fetched from outside the server (no CDN, no web fonts): the page works offline on
  loopback. The routes are left out of the OpenAPI schema, which documents the API alone.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from kinema.serve.errors import ApiError

STATIC_DIR = Path(__file__).resolve().parent / "web"
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
# Revalidate on every load: the files are tiny and a stale app.js against a newer API is worse.
CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> Response:
    """The single-page app."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=CACHE)


@router.get("/web/{name}")
def asset(name: str) -> Response:
    """One of the page's static files, by exact name (no paths, so no traversal)."""
    media_type = ASSETS.get(name)
    if media_type is None:
        return ApiError(404, f"no web asset {name!r}; the page's assets are {', '.join(sorted(ASSETS))}",
                        param="name", code="not_found").response()
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=CACHE)
