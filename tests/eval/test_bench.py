"""The suite, the calibration (ceiling near 1, floors low), the report and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kinema.eval.bench import calibrate, render_reference, run_suite
from kinema.eval.expect import CATEGORIES
from kinema.eval.report import frame_strip_png, html, table
from kinema.eval.suite import GROUPS, Suite, load_suite


@pytest.fixture(scope="module")
def suite() -> Suite:
    return load_suite()


def test_suite_is_frozen_and_covers_everything(suite: Suite) -> None:
    assert suite.name == "kinemabench-v1"
    assert len(suite.entries) >= 300
    assert len({e.id for e in suite.entries}) == len(suite.entries)
    assert {e.group for e in suite.entries} == set(GROUPS)
    assert {e.size for e in suite.entries} == {"64x64", "96x64", "64x96", "112x64"}
    assert {1, 17, 33} <= {e.frames for e in suite.entries}
    for entry in suite.entries[::37]:
        spec, reference = entry.spec_scene(), entry.reference_scene()
        assert (spec.width, spec.height, spec.frames) == (entry.width, entry.height, entry.frames)
        assert reference.placed and not any(o.trail for o in reference.objects)
    ci = suite.subset("ci")
    assert 15 <= len(ci.entries) <= 30 and {e.group for e in ci.entries} == set(GROUPS)
    with pytest.raises(ValueError, match="subset"):
        suite.subset("nope")


@pytest.fixture(scope="module")
def small(suite: Suite) -> Suite:
    """One short prompt per group: enough to check calibration, fast enough for every run."""
    picked = [next(e for e in suite.subset("ci").entries if e.group == g) for g in GROUPS]
    return Suite("kinemabench-v1/test", tuple(picked))


@pytest.fixture(scope="module")
def calibration(small: Suite) -> dict:
    return calibrate(small, mp4=True)


def test_ceiling_near_one_and_floors_low(calibration: dict) -> None:
    ceiling = calibration["ceiling"]
    assert ceiling["overall"] >= 0.95
    for name in CATEGORIES:
        assert ceiling[name] is None or ceiling[name] >= 0.85, (name, ceiling[name])
    assert calibration["floor_noise"]["overall"] <= 0.05
    # A clean render of the wrong prompt keeps the prompt-free categories (quality, smoothness)
    # but loses what the prompt asked for.
    assert calibration["floor_shuffled"]["overall"] <= ceiling["overall"] - 0.3
    if "ceiling_mp4" in calibration:  # H.264 round trip: blur and chroma noise barely matter
        assert calibration["ceiling_mp4"]["overall"] >= 0.9


def test_report_and_results_json(small: Suite, tmp_path: Path) -> None:
    renders = {e.id: render_reference(e) for e in small.entries[:3]}
    part = Suite("part", small.entries[:3])
    results = run_suite(part, lambda e: renders[e.id], label="renders", keep_frames=1)
    json.dumps(results)  # JSON-safe
    assert results["count"] == 3 and set(results["summary"]) == {*CATEGORIES, "overall"}
    assert len(results["examples"]) == 2
    page = html(results, {"ceiling": results["summary"], "floor_noise": {"overall": 0.0}})
    assert "data:image/png;base64," in page and "floor noise" in page and "ceiling" in page
    assert table(results).row_count == len(CATEGORIES) + 1
    assert frame_strip_png(np.zeros((5, 8, 8, 3), np.uint8))


def test_cli_score_and_report(tmp_path: Path) -> None:
    from kinema.cli import app
    from kinema.video import Video, write_video
    from kinema.world.parse import parse_prompt
    from kinema.world.render import render
    from kinema.world.sample import place

    prompt = "a small red ball slides to the right"
    frames = render(place(parse_prompt(prompt, frames=17), 1)).frames
    path = tmp_path / "ball.mp4"
    write_video(Video(frames, 8.0), path)
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "score", str(path), prompt, "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["overall"] >= 0.9 and scores["categories"]["direction"] >= 0.9
    bad = runner.invoke(app, ["eval", "score", str(path), "a small red ball wobbles"])
    assert bad.exit_code == 2

    results = {"suite": "s", "label": "m", "count": 0, "summary": {"overall": 0.5}, "per_prompt": []}
    (tmp_path / "r.json").write_text(json.dumps(results))
    out = runner.invoke(app, ["eval", "report", str(tmp_path / "r.json"), "-o", str(tmp_path / "r.html")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")


def test_run_calls_the_generator_with_the_entry(small: Suite, monkeypatch: pytest.MonkeyPatch) -> None:
    import kinema.pipeline
    from kinema.eval.bench import model_video_maker
    from kinema.video import Video

    calls = []

    def fake_generate(prompt: str, *, weights: str | None = None, **kw: object) -> Video:
        calls.append((prompt, weights, kw))
        entry = next(e for e in small.entries if e.prompt == prompt)
        return Video(render_reference(entry), 8.0)

    monkeypatch.setattr(kinema.pipeline, "generate", fake_generate)
    part = Suite("part", small.entries[:1])
    done: list[tuple[int, int]] = []
    results = run_suite(part, model_video_maker("weights/x"), label="fake", on_done=lambda d, n: done.append((d, n)))
    assert done == [(1, 1)]  # the progress callback, once per entry
    entry = part.entries[0]
    assert calls == [(entry.prompt, "weights/x", {"int8": False, "size": entry.size, "frames": entry.frames, "seed": entry.seed})]
    calls.clear()
    run_suite(part, model_video_maker("weights/x", guidance=7.0, shift=2.0), label="fake")
    assert calls[0][2]["guidance"] == 7.0 and calls[0][2]["shift"] == 2.0
    assert results["summary"]["overall"] >= 0.9


def test_packaged_calibration_matches_the_suite() -> None:
    from kinema.eval.suite import packaged_calibration

    cal = packaged_calibration("kinemabench-v1/ci")
    assert cal is not None and cal["suite"] == "kinemabench-v1"
    for run in ("ceiling", "ceiling_mp4", "floor_noise", "floor_shuffled"):
        assert set(CATEGORIES) <= set(cal[run])
    assert cal["ceiling"]["overall"] >= 0.98 and cal["floor_noise"]["overall"] <= 0.05


def test_a_withheld_video_scores_as_blank_and_the_run_goes_on(small: Suite) -> None:
    """A frame-check false positive on one suite prompt must not end a long evaluation."""
    from kinema.safety import RefusedError
    from kinema.safety.frames import FrameVerdict

    part = Suite("part", small.entries[:2])
    withheld_id = part.entries[0].id

    def make(entry):  # type: ignore[no-untyped-def]
        if entry.id == withheld_id:
            raise RefusedError(FrameVerdict(False, "1 of 5 frames flagged", [3], 0.01))
        return render_reference(entry)

    results = run_suite(part, make, label="one withheld")
    first, second = results["per_prompt"]
    assert results["count"] == 2 and results["withheld"] == 1
    assert first["withheld"] == "video withheld: 1 of 5 frames flagged" and "withheld" not in second
    assert first["overall"] < 0.3 < second["overall"]  # nothing shown scores like a blank video, the render as before
    json.dumps(results)
