"""The web page of `kinema serve`: its router alone, then the whole page in Debian's chromium."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from kinema.serve.web import ASSETS, router


def _client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_page_and_assets_are_served_without_a_key() -> None:
    client = _client()
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # The page loads only its own assets: nothing from a CDN (the server may be offline).
    assert 'src="/web/app.js"' in page.text and 'href="/web/style.css"' in page.text
    assert "http://" not in page.text and "https://" not in page.text
    for name, media_type in ASSETS.items():
        response = client.get(f"/web/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == media_type
        assert response.headers["cache-control"] == "no-cache"
        assert len(response.content) > 500


def test_unknown_asset_is_a_404_in_the_api_error_shape() -> None:
    client = _client()
    for name in ("missing.js", "index.html", "web.py", "app.js.map"):
        response = client.get(f"/web/{name}")
        assert response.status_code == 404, name
        error = response.json()["error"]
        assert error["param"] == "name" and "app.js" in error["message"], name
    # Paths that reach outside the folder never match the route at all.
    for path in ("/web/..%2Fweb.py", "/web/%2Fetc%2Fpasswd", "/web/../web.py"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "APIRouter" not in response.text and "root:" not in response.text, path


def test_web_routes_stay_out_of_the_api_schema() -> None:
    app = FastAPI()
    app.include_router(router)
    assert app.openapi()["paths"] == {}
