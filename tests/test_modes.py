"""Every mode end to end with a tiny random model: exact checks on given frames, lengths, errors."""

from pathlib import Path

import numpy as np
import pytest

from kinema import modes
from kinema.pipeline import Pipeline
from kinema.safety import SafetySettings
from kinema.video import Video

OFF = SafetySettings.off("prompt", "frames", "watermark")  # exact pixel checks; safety tested apart
FAST = modes.Sampling(steps=2, safety=OFF)


@pytest.fixture(scope="module")
def pipe(tiny_pipeline: Pipeline) -> Pipeline:
    return tiny_pipeline


def clip(frames: int, seed: int = 0, size: tuple[int, int] = (32, 32)) -> Video:
    rng = np.random.default_rng(seed)
    return Video(rng.integers(0, 256, (frames, size[1], size[0], 3), dtype=np.uint8))


def test_image_is_one_frame(pipe: Pipeline) -> None:
    assert modes.image(pipe, "a red ball", size="64x32", sampling=FAST).frames.shape == (1, 32, 64, 3)


def test_animate_starts_exactly_on_the_image(pipe: Pipeline) -> None:
    picture = clip(1).frames[0]
    video = modes.animate(pipe, picture, "a red ball bounces", frames=9, sampling=FAST)
    assert video.num_frames == 9 and np.array_equal(video.frames[0], picture)
    raw = modes.animate(pipe, picture, "a red ball bounces", frames=9, sampling=FAST, keep_given=False)
    assert np.array_equal(raw.frames[1:], video.frames[1:])  # splicing touches frame 0 only


@pytest.mark.parametrize("frames", [6, 70])  # not a multiple of 4; more than one 65-frame step
def test_extend_forward_keeps_the_video_and_adds_frames(pipe: Pipeline, frames: int) -> None:
    source = clip(13)
    video = modes.extend(pipe, source, "a red ball", frames=frames, sampling=FAST)
    assert video.num_frames == 13 + frames
    assert np.array_equal(video.frames[:13], source.frames)


def test_backward_variants_all_end_exactly_on_the_video(pipe: Pipeline) -> None:
    source = clip(9, seed=1)
    variants = modes.extend_variants(pipe, source, 3, "a red ball", frames=8, direction="backward", sampling=FAST)
    assert len(variants) == 3
    for video in variants:
        assert video.num_frames == 17 and np.array_equal(video.frames[8:], source.frames)
    assert not np.array_equal(variants[0].frames[:8], variants[1].frames[:8])


def test_connect_joins_both_videos_unchanged(pipe: Pipeline) -> None:
    a, b = clip(9, 2), clip(13, 3)
    video = modes.connect(pipe, a, b, frames=7, sampling=FAST)
    assert video.num_frames == 9 + 7 + 13
    assert np.array_equal(video.frames[:9], a.frames) and np.array_equal(video.frames[16:], b.frames)


def test_interpolate_keeps_every_input_frame(pipe: Pipeline) -> None:
    source = Video(clip(9, 4).frames, fps=4.0)
    video = modes.interpolate(pipe, source, factor=2, sampling=FAST)
    assert video.num_frames == 17 and video.fps == 8.0
    assert np.array_equal(video.frames[::2], source.frames)
    odd = modes.interpolate(pipe, clip(4, 5), factor=3, sampling=FAST)  # 10 frames: generated to 13, trimmed
    assert odd.num_frames == 10 and np.array_equal(odd.frames[::3], clip(4, 5).frames)


def test_keyframes_pass_through_each_image(pipe: Pipeline) -> None:
    a, b = clip(1, 6).frames[0], clip(1, 7).frames[0]
    video = modes.keyframes(pipe, {0: a, 11: b}, "a red ball", frames=17, sampling=FAST)
    assert video.num_frames == 17 and np.array_equal(video.frames[0], a) and np.array_equal(video.frames[11], b)


def test_loop_from_video_and_from_prompt(pipe: Pipeline) -> None:
    source = clip(13, 8)
    video = modes.loop(pipe, source, bridge=8, sampling=FAST)
    assert video.num_frames == 21 and np.array_equal(video.frames[:13], source.frames)
    made = modes.loop(pipe, "a red ball bounces", frames=9, bridge=8, size="32x32", sampling=FAST)
    assert made.num_frames == 17


def test_edit_is_deterministic_and_strength_one_ignores_the_input(pipe: Pipeline) -> None:
    source = clip(9, 9)
    a = modes.edit(pipe, source, "a green ball", strength=0.5, sampling=FAST)
    b = modes.edit(pipe, source, "a green ball", strength=0.5, sampling=FAST)
    assert a.num_frames == 9 and np.array_equal(a.frames, b.frames)
    one = modes.edit(pipe, source, "a green ball", strength=1.0, sampling=FAST)
    other = modes.edit(pipe, clip(9, 10), "a green ball", strength=1.0, sampling=FAST)
    assert np.array_equal(one.frames, other.frames)  # at t = 1 the input is all noise


def test_storyboard_concatenates_shots(pipe: Pipeline) -> None:
    shots = [modes.Shot("a red ball", 9), modes.Shot("a close-up of the red ball", 5)]
    video = modes.storyboard(pipe, shots, size="32x32", sampling=FAST)
    assert video.num_frames == 14


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda p: modes.connect(p, clip(9), clip(9, size=(48, 32))), "differ in size"),
        (lambda p: modes.connect(p, clip(9), clip(9), frames=60), "at most"),
        (lambda p: modes.interpolate(p, clip(40)), "at most 65"),
        (lambda p: modes.edit(p, clip(9), "a ball", strength=1.5), "strength 1.5"),
        (lambda p: modes.edit(p, clip(9), "a ball", strength=0.0), "outside \\(0, 1\\]"),
        (lambda p: modes.edit(p, clip(70), "a ball"), "at most 65"),
        (lambda p: modes.animate(p, clip(1).frames[0], "a ball", frames=32), "1 \\+ 4k"),
        (lambda p: modes.animate(p, clip(1, size=(40, 32)).frames[0], "a ball"), "40x32"),
        (lambda p: modes.extend(p, clip(9), direction="sideways"), "sideways"),
        (lambda p: modes.extend(p, clip(9), frames=0), "at least 1"),
        (lambda p: modes.keyframes(p, {40: clip(1).frames[0]}, frames=33), "keyframe time 40"),
        (lambda p: modes.storyboard(p, [modes.Shot("a ball", 12)]), "1 \\+ 4k"),
        (lambda p: modes.extend_variants(p, clip(9), 0), "variants 0"),
    ],
)
def test_bad_input_is_named(pipe: Pipeline, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call(pipe)


def test_refused_prompt_stops_every_mode_before_the_model(pipe: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    from kinema.safety import RefusedError

    monkeypatch.setattr(pipe.dit, "forward", lambda *a, **k: pytest.fail("the model ran"))
    on = modes.Sampling(steps=1)
    with pytest.raises(RefusedError):
        modes.extend(pipe, clip(9), "donald trump dancing on a table", sampling=on)
    with pytest.raises(RefusedError):
        modes.storyboard(pipe, [modes.Shot("a red ball", 5), modes.Shot("donald trump dancing", 5)], sampling=on)


def test_default_safety_watermarks_the_result(pipe: Pipeline) -> None:
    picture = clip(1, 11).frames[0]
    video = modes.animate(pipe, picture, "a red ball bounces", frames=5, sampling=modes.Sampling(steps=1))
    diff = np.abs(video.frames[0].astype(int) - picture.astype(int))
    assert 0 < diff.max() <= 16  # the watermark's small luma steps on the exact image


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture()
def cli(pipe: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run `kinema ...` with the tiny model, files in tmp_path, C2PA keys in a private home."""
    from typer.testing import CliRunner

    from kinema.cli import app

    monkeypatch.setenv("KINEMA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("kinema.pipeline.load_pipeline", lambda folder=None: pipe)
    runner = CliRunner()
    off = ["--steps", "1", "--no-prompt-check", "--no-frame-check", "--no-watermark"]
    return lambda *args, safety=True: runner.invoke(app, [*args, *([] if safety else off)])


def test_cli_extend_backward_variants_are_written_and_signed(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from kinema.safety.provenance import verify_file

    source = tmp_path / "in.mp4"
    clip(9).write(source)
    result = cli("extend", str(source), "--backward", "--frames", "8", "--variants", "2", "-o", str(tmp_path / "out.mp4"), safety=False)
    assert result.exit_code == 0, result.output
    for i in range(2):
        out = Video.read(tmp_path / f"out_{i}.mp4")
        assert out.num_frames == 17
        report = verify_file(tmp_path / f"out_{i}.mp4")
        assert report.valid and "in.mp4" in str(report.manifest)


def test_cli_interpolate_keyframes_and_storyboard(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    clip(1, 1).write(a)
    clip(1, 2).write(b)
    out = tmp_path / "keys.mp4"
    result = cli("interpolate", "--keyframe", f"0:{a}", "--keyframe", f"8:{b}", "--frames", "9", "-o", str(out), safety=False)
    assert result.exit_code == 0, result.output
    assert Video.read(out).num_frames == 9
    shots = tmp_path / "shots.txt"
    shots.write_text("5:a red ball bounces\n# a comment\n5:a close-up of the red ball\n")
    result = cli("storyboard", "--file", str(shots), "--size", "32x32", "-o", str(tmp_path / "story.mp4"), safety=False)
    assert result.exit_code == 0, result.output
    assert Video.read(tmp_path / "story.mp4").num_frames == 10


def test_cli_enhance_shows_the_prompt_and_unused_words(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("enhance", "a crimson ball bouncing happily")
    assert result.exit_code == 0 and "A medium red circle" in result.output and "happily" in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["extend", "missing.mp4"], "no such video"),
        (["edit", "{clip}", "a green ball", "--strength", "1.5"], "strength 1.5"),
        (["connect", "{clip}", "{wide}"], "differ in size"),
        (["animate", "{broken}", "a ball"], "could not decode"),
        (["interpolate", "--keyframe", "x:a.png"], "TIME:IMAGE"),
        (["storyboard"], "needs shots"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(cli, tmp_path: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    clip(9).write(tmp_path / "c.mp4")
    clip(9, size=(48, 32)).write(tmp_path / "w.mp4")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    names = {"{clip}": str(tmp_path / "c.mp4"), "{wide}": str(tmp_path / "w.mp4"), "{broken}": str(tmp_path / "broken.png")}
    result = cli(*[names.get(a, a) for a in args], "-o", str(tmp_path / "o.mp4"), safety=False) if args[0] != "interpolate" \
        else cli(*args, "-o", str(tmp_path / "o.mp4"), safety=False)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_cli_refuses_before_loading_the_model(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("kinema.pipeline.load_pipeline", lambda folder=None: pytest.fail("loaded the model"))
    clip(9).write(tmp_path / "c.mp4")
    result = cli("edit", str(tmp_path / "c.mp4"), "donald trump dancing on a table", "-o", str(tmp_path / "o.mp4"))
    assert result.exit_code == 3 and "refused" in result.output


# --- KinemaBench mode metrics --------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_clip():  # type: ignore[no-untyped-def]
    from kinema.world import parse_prompt, place, render

    return render(place(parse_prompt("a small red ball slides to the right. a large blue box rests on the left"), 0))


def test_seams_of_a_real_clip_pass_and_a_jump_fails(world_clip) -> None:  # type: ignore[no-untyped-def]
    from kinema.eval.modes import SEAM_PASS, loop_seam_ratio, seam_ratio

    frames = world_clip.frames
    assert all(seam_ratio(frames, j) <= SEAM_PASS for j in (8, 16, 24))
    jumped = np.concatenate([frames[:16], frames[::-1][:17]])  # the ball jumps to the far end
    assert seam_ratio(jumped, 16) > SEAM_PASS
    assert loop_seam_ratio(frames) > SEAM_PASS  # a slide does not loop
    with pytest.raises(ValueError, match="seam 0"):
        seam_ratio(frames, 0)


def test_ground_truth_scores_at_the_ceiling(world_clip) -> None:  # type: ignore[no-untyped-def]
    from kinema.eval.modes import color_drift, psnr, shot_identity, structure_error, track_error

    frames = world_clip.frames
    err = track_error(frames, 8.0, world_clip, list(range(1, 33, 2)))
    assert err["px"] < 1.5 and err["found"] == 1.0
    assert psnr(frames[0], frames[0]) == float("inf") and psnr(frames[0], frames[5]) < 40
    assert color_drift(frames)["background_rgb"] < 1.0
    assert shot_identity(frames, [0, 17]) == 1.0
    assert structure_error(frames, frames) == 0.0
    assert structure_error(frames, frames[::-1].copy()) > 0.05


def test_mode_bench_runs_end_to_end_with_a_tiny_model(pipe: Pipeline) -> None:
    from kinema.eval.modes import run

    results = run(pipe, scenes=1, steps=1, modes=("animate", "connect", "interpolate"))
    assert set(results["summary"]) == {"animate", "connect", "interpolate"}
    assert "first_frame_psnr" in results["summary"]["animate"] and "seams_passing" in results["summary"]["connect"]
    with pytest.raises(ValueError, match="unknown modes"):
        run(pipe, scenes=1, modes=("dance",))
