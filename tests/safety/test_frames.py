"""Frame moderation: the world's renders (and imperfect copies of them) always pass; frames that
are mostly skin or blood are withheld; the nudity detector runs on real frames and its flags reach
the verdict; bad input and the off switch behave."""

from __future__ import annotations

import numpy as np
import pytest

from kinema.safety import RefusedError, SafetySettings, enforce_frames
from kinema.safety import frames as fm
from kinema.world.palette import BACKGROUNDS, COLORS


def palette_clip(color: str, background: str, frames: int = 4, size: int = 64, cover: float = 0.7) -> np.ndarray:
    """A close-up: one palette square covering `cover` of a dark world background."""
    clip = np.empty((frames, size, size, 3), np.uint8)
    clip[:] = BACKGROUNDS[background]
    side = int(size * cover**0.5)
    clip[:, :side, :side] = COLORS[color]
    return clip


def imperfect(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a model might make of a render: blurred, noisy, slightly off in color and brightness."""
    x = clip.astype(np.float32)
    blurred = x.copy()
    blurred[:, 1:-1, 1:-1] = sum(x[:, 1 + dy : x.shape[1] - 1 + dy, 1 + dx : x.shape[2] - 1 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    blurred = blurred * rng.uniform(0.8, 1.1) + rng.uniform(-15, 15, (1, 1, 1, 3)) + rng.normal(0, 6, x.shape)
    return np.clip(blurred, 0, 255).astype(np.uint8)


def world_renders(count: int) -> list[np.ndarray]:
    try:
        from kinema.world.render import render
        from kinema.world.sample import sample_scene
    except ImportError:  # the renderer is not there yet: fall back to palette close-ups
        return [palette_clip(c, b, cover=0.1) for c in COLORS for b in BACKGROUNDS][:count]
    return [render(sample_scene(seed, "full")).frames for seed in range(count)]


def test_world_renders_and_imperfect_copies_are_never_flagged() -> None:
    rng = np.random.default_rng(0)
    clips = world_renders(24) + [palette_clip(c, b) for c in COLORS for b in BACKGROUNDS]
    for clip in clips:
        for variant in (clip, imperfect(clip, rng)):
            assert fm.color_flags(variant) == []


def test_detector_passes_world_frames_and_reports_latency() -> None:
    if fm.nudity_detector() is None:
        pytest.skip("nudenet is not installed")
    clip = np.concatenate([palette_clip("orange", "black", 2), palette_clip("pink", "night", 2), palette_clip("white", "charcoal", 2)])
    for frames in (world_renders(1)[0][:6], clip):
        verdict = fm.check_frames(frames)
        assert verdict.allowed, verdict.reason
        assert verdict.checks == ("nudity", "skin", "blood") and verdict.flagged_frames == []
        assert 0 < verdict.seconds_per_frame < 5
    scores = fm.nudity_detector().scores(clip[:2])  # type: ignore[union-attr]
    assert scores.shape == (2, len(fm.NUDENET_LABELS)) and np.all((scores >= 0) & (scores <= 1))


def test_detector_input_is_padded_square_and_upscaled() -> None:
    if fm.nudity_detector() is None:
        pytest.skip("nudenet is not installed")
    frames = np.zeros((1, 64, 112, 3), np.uint8)
    frames[..., 0] = 255
    batch = fm.nudity_detector().prepare(frames)  # type: ignore[union-attr]
    assert batch.shape == (1, 3, fm.DETECTOR_SIZE, fm.DETECTOR_SIZE) and batch.dtype == np.float32
    assert batch[0, 0, 0, 0] == 1.0 and batch[0, 0, -1, 0] == 0.0  # padding at the bottom, red channel first


def test_skin_and_blood_frames_are_withheld_with_a_reason() -> None:
    clip = palette_clip("white", "black", frames=6, cover=0.05)
    clip[2] = (224, 172, 140)  # a frame of skin
    clip[4, :40] = (120, 12, 14)  # most of a frame blood-red
    verdict = fm.check_frames(clip, nudity=False)
    assert not verdict.allowed and verdict.flagged_frames == [2, 4]
    assert "skin" in verdict.reason and "blood" in verdict.reason and "frame 2" in verdict.reason
    assert verdict.checks == ("skin", "blood")


def test_nudity_flags_reach_the_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeDetector:
        def flags(self, frames: np.ndarray) -> list[fm.FrameFlag]:
            return [fm.FrameFlag(1, "nudity", "FEMALE_BREAST_EXPOSED 0.91")]

    monkeypatch.setattr(fm, "nudity_detector", lambda: FakeDetector())
    verdict = fm.check_frames(palette_clip("blue", "night", frames=3, cover=0.05))
    assert not verdict.allowed and verdict.flagged_frames == [1] and "nudity" in verdict.reason
    with pytest.raises(RefusedError, match="video withheld"):
        enforce_frames(palette_clip("blue", "night", frames=3, cover=0.05))
    assert enforce_frames(palette_clip("blue", "night", frames=3), SafetySettings(frames=False)) is None


def test_missing_detector_is_reported_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fm, "nudity_detector", lambda: None)
    verdict = fm.check_frames(palette_clip("green", "forest", frames=2, cover=0.05))
    assert verdict.allowed and "not installed" in verdict.reason and verdict.checks == ("skin", "blood")


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 8, 8, 3), np.float32), np.zeros((8, 8, 3), np.uint8), np.zeros((0, 8, 8, 3), np.uint8), [[0]]],
)
def test_bad_input_raises_value_error(bad: object) -> None:
    with pytest.raises(ValueError):
        fm.check_frames(bad)  # type: ignore[arg-type]


def synthetic_cases() -> np.ndarray:
    """Frames that exercise every check: a world render, skin-toned and blood-red areas, noise,
    and exact duplicates of some of them (a still scene)."""
    rng = np.random.default_rng(1)
    world = world_renders(1)[0][:3]
    if world.shape[1:] != (64, 64, 3):
        world = np.stack([palette_clip("red", "black", 1)[0], palette_clip("cyan", "night", 1)[0], palette_clip("white", "charcoal", 1)[0]])
    skin = palette_clip("white", "black", frames=1, cover=0.05)
    skin[0, 8:56, 12:52] = (224, 172, 140)
    blood = palette_clip("white", "black", frames=1, cover=0.05)
    blood[0, :40] = (120, 12, 14)
    noise = rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    distinct = np.concatenate([world, skin, blood, noise])
    return distinct[[0, 1, 1, 2, 3, 3, 3, 4, 5, 0, 2]]


def test_fast_detector_scores_equal_the_per_frame_path() -> None:
    """Batching and duplicate-skipping change nothing: every frame's scores equal those of the
    detector run on that frame alone, and the verdict flags the same frames as before."""
    path = fm.detector_model_path()
    if path is None:
        pytest.skip("nudenet is not installed")
    frames = synthetic_cases()
    fast = fm.NudityDetector(path)
    before = fm.NudityDetector(path, spinning=True, dedupe=False)
    per_frame = np.concatenate([before.raw_scores(frames[t : t + 1]) for t in range(len(frames))])
    np.testing.assert_allclose(fast.scores(frames), per_frame, atol=1e-4)
    np.testing.assert_allclose(before.scores(frames), per_frame, atol=1e-4)
    assert fast.flags(frames) == before.flags(frames)
    verdict = fm.check_frames(frames)
    assert verdict.flagged_frames == [4, 5, 6, 7]  # the skin frames and the blood frame, duplicates included
    with pytest.raises(ValueError, match="threads"):
        fm.NudityDetector(path, threads=0)
