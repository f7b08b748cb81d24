"""benchmarks/position_probe.py: the red-centre measure, the probe's record and its contact sheet."""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from position_probe import contact_sheet, probe, red_centre_x  # noqa: E402


def test_red_centre_x_finds_a_red_object_and_none_on_black() -> None:
    frame = np.zeros((16, 16, 3), dtype=np.uint8)
    assert red_centre_x(frame) is None
    frame[6:10, 12:16] = (230, 20, 20)
    assert abs(red_centre_x(frame) - 13.5 / 16) < 1e-6


def test_probe_scores_every_side_and_saves_its_images(tiny_weights: Path, tmp_path: Path) -> None:
    result = probe(str(tiny_weights), seeds=1)
    assert result["images"] == 6 and 0.0 <= result["in_asked_third"] <= result["visible"] <= 1.0
    assert set(result["mean_x"]) == {"left", "center", "right"}
    rows = result["rows"]
    assert [len(images) for _, images in rows] == [2, 2, 2] and "on the left" in rows[0][0]
    contact_sheet(rows, tmp_path / "sheet.png")
    sheet = np.asarray(Image.open(tmp_path / "sheet.png"))
    height, width = rows[0][1][0].shape[:2]
    assert sheet.shape[0] == 3 * (2 * height + 14 + 2) and sheet.shape[1] == 2 * (2 * width + 2)
    first = sheet[14 : 14 + 2 * height, : 2 * width]  # the first image, upscaled 2x, its thirds marked
    assert np.array_equal(first[:, 0], np.repeat(rows[0][1][0][:, 0], 2, axis=0))
