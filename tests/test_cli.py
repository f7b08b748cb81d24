"""The `kinema` command: real files out, and bad input gives one clear line and exit code 2."""

import json
from pathlib import Path

from typer.testing import CliRunner

from kinema.cli import app
from kinema.video import read_video

runner = CliRunner()


def test_help_teaches_by_example() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert 'kinema generate "a large blue square slides to the left"' in result.output
    assert "world" in result.output and "train" in result.output


def test_world_render_writes_the_prompt_as_mp4_with_truth(tmp_path: Path) -> None:
    out, truth = tmp_path / "ball.mp4", tmp_path / "ball.json"
    result = runner.invoke(app, ["world", "render", "a small red circle bounces to the right", "-o", str(out), "--size", "96x64", "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    video = read_video(out)
    assert video.frames.shape == (33, 64, 96, 3)
    record = json.loads(truth.read_text())
    assert record["scene"]["objects"][0]["color"] == "red" and record["scene"]["objects"][0]["motion"] == "bounce"
    xs = [c[0][0] for c in record["truth"]["center"]]
    assert xs[-1] > xs[0]  # moves to the viewer's right


def test_world_render_names_the_words_it_cannot_place(tmp_path: Path) -> None:
    result = runner.invoke(app, ["world", "render", "a small red flurble bounces zonkily", "-o", str(tmp_path / "x.mp4")])
    assert result.exit_code == 2
    assert "flurble" in result.output and "zonkily" in result.output
    assert "Traceback" not in result.output


def test_world_sample_writes_clips_captions_and_truth(tmp_path: Path) -> None:
    result = runner.invoke(app, ["world", "sample", "--n", "2", "-o", str(tmp_path), "--size", "64x64", "--frames", "9", "--seed", "3"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "clip_0001.json").read_text())
    assert record["detailed_caption"] and record["short_caption"]
    assert len(record["truth"]["center"]) == 9
    assert read_video(tmp_path / "clip_0001.mp4").num_frames == 9


def test_bad_options_fail_clearly(tmp_path: Path) -> None:
    cases = [
        (["world", "render", "red ball", "--size", "60x64", "-o", str(tmp_path / "a.mp4")], "multiple of 16"),
        (["world", "render", "red ball", "--frames", "3", "-o", str(tmp_path / "a.png")], "one frame"),
        (["world", "render", "red ball", "-o", str(tmp_path / "a.avi")], "allowed"),
        (["world", "sample", "--n", "0", "-o", str(tmp_path)], "at least 1"),
        (["generate", "red ball", "--frames", "32", "-o", str(tmp_path / "a.mp4")], "1 + 4k"),
        (["generate", " ", "-o", str(tmp_path / "a.mp4")], "prompt is empty"),
        (["generate", "red ball", "--size", "64", "-o", str(tmp_path / "a.mp4")], "WIDTHxHEIGHT"),
        (["generate", "red ball", "--guidance-interval", "0.7", "-o", str(tmp_path / "a.mp4")], "must be LOW,HIGH"),
        (["generate", "red ball", "--guidance-interval", "0.7,0.2", "-o", str(tmp_path / "a.mp4")], "0 <= LOW < HIGH <= 1"),
        (["generate", "red ball", "--shift", "0", "-o", str(tmp_path / "a.mp4")], "shift 0.0 is out of range"),
        (["train", "dit", "--position-features", "6", "--run", str(tmp_path / "r")], "--position-features 6 must be 0 or a positive multiple of 4"),
        (["train", "stream", "--position-features", "-4", "--run", str(tmp_path / "s")], "--position-features -4 must be 0 or a positive multiple of 4"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
