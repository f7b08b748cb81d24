"""benchmarks/layout_band.py: the red-weighted centre and the band it reports."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from layout_band import TIMES, band, red_weight_x  # noqa: E402


def test_red_weight_x_finds_the_red_object_and_ignores_grey() -> None:
    frame = np.full((16, 16, 3), 90, dtype=np.uint8)  # grey background: no red weight
    frame[4:8, 1:3] = (220, 30, 30)
    assert abs(red_weight_x(frame) - 2 / 16) < 1e-6
    frame[:, 12:16] = (120, 120, 120)
    assert abs(red_weight_x(frame) - 2 / 16) < 1e-6


def test_band_reports_the_renders_sides_and_every_noise_level(tiny_weights: Path) -> None:
    out = band(str(tiny_weights), seeds=1)
    assert out["frames"] == 1
    assert out["left"]["render"] < 1 / 3 and out["right"]["render"] > 2 / 3  # the renders are where the prompt says
    for side in ("left", "right"):
        values = [out[side][f"t={t}"] for t in TIMES]
        assert len(values) == len(TIMES) and all(0.0 <= v <= 1.0 for v in values)
