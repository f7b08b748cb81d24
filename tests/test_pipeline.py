"""The generation pipeline end to end with a tiny untrained model (fast), and its input errors."""

from pathlib import Path

import pytest

from kinema.pipeline import Pipeline


@pytest.fixture(scope="module")
def pipe(tiny_pipeline: Pipeline) -> Pipeline:
    return tiny_pipeline


@pytest.mark.parametrize("size,frames", [("64x64", 33), ("96x64", 9), ("64x96", 1), ("112x64", 5)])
def test_generates_every_shipped_size(pipe: Pipeline, size: str, frames: int) -> None:
    steps = []
    video = pipe.generate("a small red ball bounces to the right", size=size, frames=frames, steps=2, on_step=lambda i, n: steps.append(i))
    width, height = (int(v) for v in size.split("x"))
    assert video.frames.shape == (frames, height, width, 3) and video.fps == 8.0
    assert steps == [1, 2]


def test_same_seed_same_video_other_seed_other_video(pipe: Pipeline) -> None:
    a = pipe.generate("a blue square", frames=5, steps=2, seed=3)
    b = pipe.generate("a blue square", frames=5, steps=2, seed=3)
    c = pipe.generate("a blue square", frames=5, steps=2, seed=4)
    assert (a.frames == b.frames).all()
    assert not (a.frames == c.frames).all()


def test_sampler_options_change_the_video_as_documented(tiny_weights: Path) -> None:
    """A shift or a guidance interval changes the path; an interval over all of [0, 1] is plain guidance."""
    import torch

    pipe = Pipeline.from_pretrained(tiny_weights)  # its own copy: the zero-initialised layers get weights
    torch.manual_seed(0)
    with torch.no_grad():
        for p in pipe.dit.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.1)
    base = pipe.generate("a blue square", frames=5, steps=3, seed=3).frames
    whole = pipe.generate("a blue square", frames=5, steps=3, seed=3, guidance_interval=(0.0, 1.0)).frames
    shifted = pipe.generate("a blue square", frames=5, steps=3, seed=3, shift=3.0).frames
    limited = pipe.generate("a blue square", frames=5, steps=3, seed=3, guidance_interval=(0.5, 1.0)).frames
    assert (base == whole).all()
    assert not (base == shifted).all() and not (base == limited).all()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"prompt": "  "}, "prompt is empty"),
        ({"size": "60x64"}, "multiple of 16"),
        ({"size": "big"}, "WIDTHxHEIGHT"),
        ({"frames": 32}, "1 \\+ 4k"),
        ({"frames": 69}, "1 \\+ 4k"),
        ({"steps": 0}, "steps"),
        ({"solver": "rk4"}, "solver"),
        ({"shift": -1.0}, "shift"),
        ({"guidance_interval": (0.6, 0.4)}, "guidance interval"),
    ],
)
def test_bad_input_is_named(pipe: Pipeline, kwargs: dict, message: str) -> None:
    args = {"prompt": "a red ball", "frames": 1, "steps": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        pipe.generate(**args)


def test_missing_weights_folder() -> None:
    with pytest.raises(FileNotFoundError, match="no Kinema weights"):
        Pipeline.from_pretrained("/nonexistent/weights")


def test_refused_prompt_never_reaches_the_model(pipe: Pipeline) -> None:
    from kinema.safety import RefusedError

    with pytest.raises(RefusedError, match="real_person"):
        pipe.generate("donald trump dancing on a table", frames=1, steps=1)


def test_output_is_watermarked_and_signed(pipe: Pipeline, tmp_path: Path) -> None:
    from kinema.pipeline import save
    from kinema.safety import SafetySettings
    from kinema.safety.detect import detect_file
    from kinema.safety.provenance import verify_file

    video = pipe.generate("a green triangle spins clockwise", frames=9, steps=1, seed=2)
    path = tmp_path / "out.mp4"
    save(video, path, settings={"seed": 2})
    assert detect_file(path).found
    report = verify_file(path)
    assert report.valid and not report.tampered

    plain = pipe.generate("a green triangle spins clockwise", frames=9, steps=1, seed=2, safety=SafetySettings.off("watermark"))
    save(plain, tmp_path / "plain.mp4", safety=SafetySettings.off("watermark"))
    assert not detect_file(tmp_path / "plain.mp4").found
    assert "watermark" in str(verify_file(tmp_path / "plain.mp4").manifest)
