"""Bad input never breaks `kinema serve`: fuzzing its OpenAPI schema gives 4xx, never 5xx.

- schemathesis reads the app's own `/openapi.json` and calls every operation in-process (ASGI, no
  network) with generated valid and invalid parameters and bodies, with a valid API key; its
  `not_a_server_error` check fails the test on any 5xx. Examples per operation are bounded so the
  whole file runs in well under a minute on one core.
- hypothesis drives the multipart POST /v1/videos with random values in every field (prompt,
  model, seconds, size, seed, steps, and an `input_reference` that is random bytes, an image of a
  served size, or one of a wrong size): the answer is a 2xx video object or a 4xx in OpenAI's error
  shape, never anything else.

No worker runs: created jobs stay queued, which is all the API process does with them. The key's
rate limit and queue quota are raised so the fuzzer reaches the validation behind them.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from kinema.serve.app import create_app
from kinema.serve.config import SERVED_SECONDS, SERVED_SIZES, ServeConfig
from kinema.serve.store import Store

EXAMPLES_PER_OPERATION = 12
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)  # no slow "explain"
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
QUICK = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, str]]:
    """The app in-process on a fresh home, and a valid key."""
    home = tmp_path_factory.mktemp("fuzz-home")
    config = ServeConfig(home=home, rate_limit_rpm=10**6, max_active_jobs=10**6)
    _, key = Store(config.url).create_key("fuzz")
    yield create_app(config), key


def fuzz(app: object, key: str, examples: int = EXAMPLES_PER_OPERATION, only: str | None = None,
         shrink: bool = True) -> tuple[Counter[str], list[str], list[str]]:
    """schemathesis over every operation of `app`'s schema with a valid key: valid-looking (positive)
    and schema-breaking (negative) input, plus the video-id routes on a real (queued) video.
    `only`: just the operation with that label; `shrink=False` reports the first failing example
    as found (shrinking a failure costs minutes). Returns (calls per operation, failures, operations
    with no schema-breaking input). An exception the app raises past its 500 handler (Starlette
    re-raises after answering) counts as a failure too."""
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        queued_id = client.post("/v1/videos", files={"prompt": (None, "a red ball")}, headers=auth).json()["id"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if only is None or op.label == only]
    calls: Counter[str] = Counter()
    failures: list[str] = []
    unsatisfiable: list[str] = []
    for operation in operations:
        runs = [(mode, None) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
        if "{video_id}" in operation.path:
            runs.append((GenerationMode.POSITIVE, {"video_id": queued_id}))
        for mode, path_parameters in runs:

            @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
            @settings(QUICK, max_examples=examples, phases=PHASES if shrink else NO_SHRINK)
            def call(case: schemathesis.Case) -> None:
                calls[operation.label] += 1
                case.call_and_validate(headers=auth, checks=[not_a_server_error])

            try:
                call()
            except Unsatisfiable:
                # Negative mode on an operation whose every input is schema-valid (any string is a
                # valid video id; options takes no parameters): nothing to generate, nothing to fail.
                assert mode is GenerationMode.NEGATIVE, operation.label
                unsatisfiable.append(operation.label)
            except Exception as error:  # one operation's failure must not hide another's
                failures.append(f"{operation.label} ({mode}{', real id' if path_parameters else ''}): "
                                f"{type(error).__name__}: {error}")
    return calls, failures, unsatisfiable


def test_no_operation_answers_bad_input_with_a_server_error(served: tuple[object, str]) -> None:
    app, key = served
    calls, failures, unsatisfiable = fuzz(app, key)
    assert len(calls) >= 10, sorted(calls)  # the whole /v1 surface is in the schema and was called
    print(f"schemathesis: {sum(calls.values())} calls over {len(calls)} operations, {len(failures)} failing; "
          f"no schema-breaking input exists for {', '.join(unsatisfiable) or 'none'}")
    assert not failures, "\n\n".join(failures)


def test_the_fuzzer_finds_a_server_error(tmp_path: Path) -> None:
    """The harness itself: an operation that 500s on one input is caught (else a green run means nothing)."""
    config = ServeConfig(home=tmp_path, rate_limit_rpm=10**6, max_active_jobs=10**6)
    _, key = Store(config.url).create_key("fuzz")
    app = create_app(config)

    @app.get("/v1/kinema/root")
    def root(n: int) -> dict[str, float]:
        return {"value": math.sqrt(n)}  # ValueError on n < 0 -> the app's 500 server_error

    app.openapi_schema = None  # rebuilt with the new route
    calls, failures, _ = fuzz(app, key, examples=30, only="GET /v1/kinema/root", shrink=False)
    assert calls["GET /v1/kinema/root"] > 0
    assert failures and all(f.startswith("GET /v1/kinema/root") for f in failures), failures
    assert any("500" in f or "math domain error" in f for f in failures), failures


def _png(width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def mostly(valid: st.SearchStrategy, broken: st.SearchStrategy) -> st.SearchStrategy:
    """Valid (or left out) about 4 times in 5, so that many requests get past every other check."""
    pick = st.sampled_from(("omit", "valid", "valid", "valid", "broken"))
    return pick.flatmap(lambda choice: {"omit": st.none(), "valid": valid, "broken": broken}[choice])


sizes = mostly(st.sampled_from(SERVED_SIZES),
               st.one_of(st.sampled_from(("0x0", "64x", "x64", "64X64", "-64x64", "99999999999x64", "64x64x64")),
                         st.text(max_size=12)))
seconds = mostly(st.sampled_from([str(s) for s in SERVED_SECONDS]),
                 st.one_of(st.sampled_from(("0", "-1", "4.0", "1e3", "NaN", "inf", "9", " 4")), st.text(max_size=8)))
seeds = mostly(st.integers(0, 2**31 - 1).map(str),
               st.one_of(st.integers(-2**70, 2**70).map(str), st.sampled_from(("1.5", "", "x", "NaN"))))
steps = mostly(st.integers(1, 4).map(str),
               st.one_of(st.integers(-2**70, 2**70).map(str), st.sampled_from(("0", "51", "1.5", "", "x"))))
models = mostly(st.just("kinema-tiny"), st.one_of(st.just("sora-2"), st.text(max_size=12)))
prompts = mostly(st.sampled_from(("a small red ball bounces to the right", "two blue squares slide left")),
                 st.one_of(st.sampled_from(("", "   ", "a" * 5000)), st.text(max_size=120)))
images = st.one_of(
    st.none(), st.none(), st.none(),
    st.binary(max_size=256),
    st.tuples(st.sampled_from([tuple(int(v) for v in s.split("x")) for s in SERVED_SIZES] + [(65, 64), (8, 8)]),
              st.integers(0, 3)).map(lambda wh_seed: _png(wh_seed[0][0], wh_seed[0][1], wh_seed[1])),
)


@given(prompt=prompts, model=models, seconds=seconds, size=sizes, seed=seeds, steps=steps, image=images)
@settings(QUICK, max_examples=60)
def test_create_with_random_fields_is_2xx_or_4xx(served: tuple[object, str], prompt: str, model: str | None,
                                                  seconds: str | None, size: str | None, seed: str | None,
                                                  steps: str | None, image: bytes | None) -> None:
    app, key = served
    fields = {"prompt": prompt, "model": model, "seconds": seconds, "size": size, "seed": seed, "steps": steps}
    files: dict[str, tuple[str | None, bytes | str, str] | tuple[None, str]] = {
        name: (None, value) for name, value in fields.items() if value is not None}
    if image is not None:
        files["input_reference"] = ("reference.png", image, "image/png")
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/videos", files=files, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code < 500, (fields, response.text)
    body = response.json()
    event(f"{response.status_code} {'ok' if response.is_success else body['error']['param']}")
    if response.is_success:
        assert body["object"] == "video" and body["status"] == "queued", body
        assert body["size"] in SERVED_SIZES and body["prompt"] == prompt
    else:
        assert 400 <= response.status_code < 500
        assert set(body["error"]) >= {"message", "type", "param", "code"}, body
        assert body["error"]["message"], body
