"""Per-key rate limits (429 + Retry-After), queue quotas (429), body size (413), the OpenAI error
shape on every failure, and `kinema keys` printing the key on its last line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from typer.testing import CliRunner

from kinema.serve.config import ServeConfig
from kinema.serve.limits import RateLimiter
from kinema.serve.store import Store, api_keys, hash_key
from tests.serve.conftest import http, start_uvicorn

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PROMPT = "a small red ball bounces to the right"


@pytest.fixture
def api(serve_home: Path, tiny_weights: Path) -> Iterator[tuple[str, str, ServeConfig]]:
    """A live API with tight limits and no worker: jobs stay queued."""
    from kinema.serve.app import create_app

    config = ServeConfig(home=serve_home, weights=tiny_weights, rate_limit_rpm=5, max_active_jobs=2,
                         max_request_bytes=4096)
    _, key = Store(config.url).create_key("test")
    server, thread, port = start_uvicorn(create_app(config))
    yield f"http://127.0.0.1:{port}/v1", key, config
    server.should_exit = True  # type: ignore[attr-defined]
    thread.join(10)


def test_rate_limit_is_per_key_with_retry_after(api) -> None:  # type: ignore[no-untyped-def]
    base, key, config = api
    replies = [http("GET", f"{base}/videos", key) for _ in range(6)]
    assert [r.status for r in replies] == [200] * 5 + [429]
    limited = replies[-1]
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limit_exceeded" and "5 requests a minute" in limited.json()["error"]["message"]
    _, other = Store(config.url).create_key("other")
    assert http("GET", f"{base}/videos", other).status == 200  # another key has its own budget


def test_rate_limiter_refills_evenly() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.check("k") == 0 for _ in range(60))
    assert limiter.check("k") == pytest.approx(1.0)
    now[0] += 1.0
    assert limiter.check("k") == 0 and limiter.check("k") > 0


def test_queue_quota_and_body_size(api) -> None:  # type: ignore[no-untyped-def]
    base, key, _ = api
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
    client.videos.create(prompt=PROMPT, seconds="1")
    client.videos.create(prompt=PROMPT, seconds="1")
    with pytest.raises(openai.RateLimitError) as error:
        client.videos.create(prompt=PROMPT, seconds="1")
    assert error.value.code == "queue_quota_exceeded" and "at most 2" in error.value.message
    assert error.value.response.headers["retry-after"] == "10"
    with pytest.raises(openai.APIStatusError) as error:
        client.videos.create(prompt=PROMPT, input_reference=("big.png", b"\0" * 5000, "image/png"))
    assert error.value.status_code == 413 and error.value.code == "request_too_large"
    assert "4096 bytes" in error.value.message


def test_every_error_has_the_openai_shape(api) -> None:  # type: ignore[no-untyped-def]
    base, key, _ = api
    cases = [
        http("GET", f"{base}/videos"),  # no key
        http("GET", f"{base}/videos", headers={"Authorization": "Basic abc"}),
        http("GET", f"{base}/videos/video_none", key),
        http("GET", f"{base}/videos?limit=1000", key),
        http("GET", f"{base}/nowhere", key),
    ]
    assert [c.status for c in cases] == [401, 401, 404, 400, 404]
    for reply in cases:
        error = reply.json()["error"]
        assert set(error) >= {"message", "type", "param", "code"} and error["message"]
    assert cases[0].headers["www-authenticate"] == "Bearer"
    assert cases[3].json()["error"]["param"] == "limit"


def test_keys_cli_prints_the_key_last_and_stores_only_its_hash(serve_home: Path) -> None:
    from kinema.cli import app

    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "alice", "--home", str(serve_home)])
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    store = Store(ServeConfig(home=serve_home).url)
    assert store.authenticate(secret).name == "alice"
    with store.engine.connect() as conn:
        rows = [tuple(str(v) for v in row) for row in conn.execute(api_keys.select())]
    assert len(rows) == 1 and hash_key(secret) in rows[0] and not any(secret in v for v in rows[0])
    listed = runner.invoke(app, ["keys", "list", "--home", str(serve_home)])
    assert "alice" in listed.output and secret not in listed.output
    assert runner.invoke(app, ["keys", "revoke", "alice", "--home", str(serve_home)]).exit_code == 0
    assert store.authenticate(secret) is None
    missing = runner.invoke(app, ["keys", "revoke", "nobody", "--home", str(serve_home)])
    assert missing.exit_code == 2 and "kinema keys list" in missing.output
