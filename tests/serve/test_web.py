"""The web page of `kinema serve`: its router alone, then the whole page in Debian's chromium.

The browser test runs the real thing: uvicorn on a loopback port with a worker thread, the shipped
weights (weights/kinema-tiny), a fresh KINEMA_HOME, and Debian's /usr/bin/chromium driven by
Playwright (never a downloaded browser). It clicks through a generation end to end and saves a
screenshot in the test's tmp folder; `KINEMA_WEB_SCREENSHOT=docs/img/web.png` also writes it
there (how docs/img/web.png was made).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from PIL import Image
from fastapi.testclient import TestClient

from kinema.serve.web import ASSETS, router

CHROMIUM = Path("/usr/bin/chromium")
# Offline and quiet: no QUIC, no component/field-trial downloads, no sync, no first-run UI.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PROMPT = "a small red ball bounces to the right"


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


# ---- the page in a real browser against a real server -----------------------------------------


@dataclass
class Served:
    url: str  # http://127.0.0.1:PORT
    key: str
    home: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`kinema serve` on loopback with one worker thread and the shipped weights."""
    import uvicorn

    from kinema.pipeline import DEFAULT_WEIGHTS
    from kinema.serve.app import create_app
    from kinema.serve.config import ServeConfig
    from kinema.serve.store import Store
    from kinema.serve.worker import Worker

    home = tmp_path_factory.mktemp("home")
    previous_home = os.environ.get("KINEMA_HOME")
    os.environ["KINEMA_HOME"] = str(home)  # the C2PA identity too: nothing lands in the user's folder
    # 8 steps: a 1-second 96x64 clip takes about a second on one core, and is still a real sample.
    config = ServeConfig(home=home, weights=DEFAULT_WEIGHTS, steps=8, poll_after_ms=100, worker_poll_seconds=0.1)
    _, key = Store(config.url).create_key("browser-test")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    server_thread = threading.Thread(target=server.run, daemon=True)
    server_thread.start()
    stop = threading.Event()
    worker_thread = threading.Thread(target=Worker(config).run, kwargs={"stop": stop}, daemon=True)
    worker_thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and server_thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", key, home)
    finally:
        stop.set()
        server.should_exit = True
        server_thread.join(10)
        worker_thread.join(30)
        if previous_home is None:
            os.environ.pop("KINEMA_HOME", None)
        else:
            os.environ["KINEMA_HOME"] = previous_home


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: the browser test drives Debian's chromium "
                    "(apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_a_wrong_key_is_refused_and_asked_again(served: Served, browser) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(served.url + "/")
    page.get_by_role("textbox", name="API key").fill("kn-" + secrets.token_urlsafe(16))
    page.get_by_role("button", name="Save key").click()
    expect(page.get_by_role("alert").filter(has_text="refused")).to_be_visible()
    expect(page.get_by_role("heading", name="New video")).to_be_hidden()
    page.close()


def test_generate_in_the_browser_end_to_end(served: Served, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from kinema.safety.provenance import verify_file

    started = time.perf_counter()
    # A phone-width first: the form must be usable without horizontal scrolling.
    context = browser.new_context(viewport={"width": 390, "height": 800}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served.url + "/")

    # The key is asked once and kept in localStorage.
    page.get_by_role("textbox", name="API key").fill(served.key)
    page.get_by_role("button", name="Save key").click()
    expect(page.get_by_role("heading", name="New video")).to_be_visible()
    assert page.evaluate("localStorage.getItem('kinema.apiKey')") == served.key
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # Size and duration pickers are filled from /v1/kinema/options.
    assert page.get_by_label("Size").locator("option").all_inner_texts()[:2] == ["64 × 64", "96 × 64"]
    page.get_by_label("Prompt").fill(PROMPT)
    page.get_by_label("Size").select_option("96x64")
    page.get_by_label("Duration").select_option("1")
    page.get_by_role("button", name="Preview enhanced prompt").click()
    preview = page.locator("#enhance-text")
    expect(preview).to_contain_text("red")
    enhanced_preview = preview.inner_text()
    assert len(enhanced_preview) > len(PROMPT)

    page.set_viewport_size({"width": 1000, "height": 900})
    page.get_by_role("button", name="Generate").click()
    card = page.locator("li.job").first
    # The first create loads the prompt moderation's classifier: allow it time on a busy CI core.
    expect(card.locator("p.prompt")).to_have_text(PROMPT, timeout=60_000)
    # The job shows up queued or running, with its progress bar, before it completes.
    expect(card.locator("progress")).to_be_visible()
    expect(card.locator(".meta")).to_contain_text("96x64")

    # Completed: the video plays from a blob URL (fetched with the key), badges and download appear.
    expect(card.locator(".status")).to_have_text("completed", timeout=90_000)
    player = card.locator("video")
    expect(player).to_be_visible()
    page.wait_for_function("v => v.readyState >= 2 && v.videoWidth === 96 && v.currentTime > 0",
                           arg=player.element_handle(), timeout=15_000)
    assert player.get_attribute("src").startswith("blob:")
    expect(card.locator("progress")).to_be_hidden()
    enhanced = card.get_by_text("Enhanced prompt")
    expect(enhanced).to_be_visible()
    assert card.locator("[data-role=enhanced]").inner_text() == enhanced_preview
    expect(card.locator(".badge.ok").filter(has_text="C2PA: Trusted")).to_be_visible()
    expect(card.locator(".badge.ok").filter(has_text="Watermark")).to_be_visible()

    with page.expect_download() as download_info:
        card.get_by_role("link", name="Download MP4").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.suffix == ".mp4" and saved.read_bytes()[4:8] == b"ftyp"
    assert verify_file(saved).valid  # the downloaded file still carries its signed manifest

    shot = tmp_path / "web.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("KINEMA_WEB_SCREENSHOT"):
        page.screenshot(path=os.environ["KINEMA_WEB_SCREENSHOT"], full_page=True)

    # From the finished video: extend and remix it (the card's buttons pick it as the source), and
    # animate an uploaded image. Each is accepted and listed with its mode (not waited for).
    for action, prompt in (("Extend", "the red ball keeps bouncing"), ("Remix", "a small green ball bounces to the right")):
        card.get_by_role("button", name=action).click()
        assert page.get_by_label("Video to start from").input_value() == card.get_attribute("data-id")
        page.get_by_label("Prompt").fill(prompt)
        page.get_by_role("button", name="Generate").click()
        expect(page.locator("li.job").first.locator("p.prompt")).to_have_text(prompt, timeout=60_000)
        expect(page.locator("li.job").first.locator(".meta")).to_contain_text(action.lower())
    image = tmp_path / "first-frame.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(image)
    page.get_by_label("Start from", exact=True).select_option("animate")
    page.get_by_label("Image to animate (PNG or JPEG)").set_input_files(str(image))
    page.get_by_label("Prompt").fill("the red square slides to the left")
    page.get_by_label("Size").select_option("64x64")
    page.get_by_role("button", name="Generate").click()
    newest = page.locator("li.job").first
    expect(newest.locator("p.prompt")).to_have_text("the red square slides to the left", timeout=60_000)
    expect(newest.locator(".meta")).to_contain_text("animate")
    expect(page.locator("#create-error")).to_be_empty()
    assert not errors, errors
    context.close()
    print(f"browser end-to-end: {time.perf_counter() - started:.1f} s")
