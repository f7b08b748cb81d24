"""Pixels to detections, tracks, cuts and camera motion, on frames drawn with numpy (tests/eval/synth.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kinema.eval.analyze import analyze
from kinema.eval.detect import detect, equivalent_diameter

from synth import video


@pytest.mark.parametrize("shape", ["circle", "square", "triangle"])
@pytest.mark.parametrize("d", [7.7, 11.5, 17.9])
def test_shape_and_size_any_rotation(shape: str, d: float) -> None:
    frames = video([[("green", shape, 30.3, 27.6, d, angle)] for angle in range(0, 90, 13)])
    per_frame, _, _ = detect(frames)
    for dets in per_frame:
        assert len(dets) == 1
        det = dets[0]
        assert det.color == "green" and det.shape == shape
        assert det.diameter == pytest.approx(d, rel=0.08)
        assert (det.x, det.y) == pytest.approx((30.3, 27.6), abs=0.3)


def test_rotation_angle_follows_spin() -> None:
    frames = video([[("blue", "square", 32, 30, 14, 10 * t)] for t in range(6)])
    angles = [detect(frames)[0][t][0].angle for t in range(6)]
    steps = (np.diff(angles) + 45) % 90 - 45  # a square's angle is defined modulo 90
    assert np.all(np.abs(steps - 10) < 4.5)  # clockwise on screen = increasing angle (y down)


def test_background_floor_and_stars_are_not_objects() -> None:
    frames = video([[]], background="night", stars=60)
    per_frame, stats, _ = detect(frames)
    assert per_frame == [[]]
    assert stats[0].floor_top == 56
    assert np.allclose(stats[0].background, (20, 25, 70), atol=2)


def test_tracks_keep_identity_through_crossing() -> None:
    frames = video([[("red", "circle", 10 + 2 * t, 30, 10, 0), ("pink", "square", 50 - 2 * t, 30, 10, 0)] for t in range(20)])
    result = analyze(frames, 8.0)
    assert sorted((t.color, t.shape) for t in result.objects()) == [("pink", "square"), ("red", "circle")]
    red = next(t for t in result.tracks if t.color == "red")
    assert red.xy[-1, 0] > red.xy[0, 0] + 30


def test_hard_cut_found_from_reframing() -> None:
    near = [[("red", "circle", 20, 30, 8, 0), ("blue", "square", 40, 30, 8, 0)]] * 5
    far = [[("red", "circle", 25, 30, 14, 0), ("blue", "square", 45, 30, 14, 0)]] * 5
    result = analyze(video(near + far), 8.0)
    assert [s.start for s in result.shots] == [0, 5]


def test_pan_moves_texture_not_objects() -> None:
    # The world scrolls right by 1.5 px a frame: stars move, the object is still in the world
    frames = []
    for t in range(12):
        shift = 1.5 * t
        frame = video([[("yellow", "circle", 20 + shift, 28, 10, 0)]], stars=0)[0].astype(np.float32)
        rng = np.random.default_rng(3)
        xs, ys = rng.uniform(-30, 90, 120), rng.uniform(0, 55, 120)
        for x, y in zip(xs + shift, ys):
            if 0 <= x < 63 and abs(x - 20 - shift) + abs(y - 28) > 9:
                ix, fx = int(x), x - int(x)
                frame[int(y), ix] += 12 * (1 - fx)
                frame[int(y), ix + 1] += 12 * fx
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    result = analyze(np.stack(frames), 8.0)
    assert len(result.shots) == 1
    assert result.shots[0].texture_motion[0] == pytest.approx(1.5, abs=0.3)
    track = result.objects()[0]
    world = result.world_xy(track)
    assert np.ptp(world[:, 0]) < 2.0  # still in the world once the pan is removed


def test_noise_has_no_objects() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    result = analyze(noise, 8.0)
    assert result.objects() == []


def test_equivalent_diameter() -> None:
    assert equivalent_diameter(100.0, "square") == pytest.approx(10.0)
    assert equivalent_diameter(np.pi * 25, "circle") == pytest.approx(10.0)
