"""benchmarks/plot_bench_curve.py: the model card's KinemaBench curve file is valid and plots."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from plot_bench_curve import SCORES, cumulative_hours, load_curve, plot  # noqa: E402

SHIPPED = ROOT / "weights" / "kinema-tiny"


def test_the_shipped_curve_ends_at_the_shipped_step_and_plots(tmp_path: Path) -> None:
    data = load_curve(SHIPPED / "bench_curve.json")
    shipped_step = json.loads((SHIPPED / "dit.json").read_text())["step"]
    assert data["points"][-1]["step"] == shipped_step  # the curve is kept up to date with the weights
    assert [p["step"] for p in data["points"]] == sorted(p["step"] for p in data["points"])
    assert all(data["floor_shuffled"][s] < data["ceiling"][s] for s in SCORES)
    plot(data, tmp_path / "curve.png")
    image = np.asarray(Image.open(tmp_path / "curve.png").convert("RGB"))
    assert image.shape[1] > 2 * image.shape[0] and image.std() > 10  # a wide row of panels, not a blank page


def test_hours_accumulate_and_bad_points_are_named(tmp_path: Path) -> None:
    assert cumulative_hours([{"hours": 0.5}, {"hours": 0.25}]) == [0.5, 0.75]
    base = {"ceiling": {}, "floor_shuffled": {}, "targets": {}}
    path = tmp_path / "curve.json"
    path.write_text(json.dumps({**base, "points": [{"step": 1, "hours": 1.0, "hardware": "cpu", "overall": 0.5}]}))
    with pytest.raises(ValueError, match="point 0 lacks color, shape, position, direction"):
        load_curve(path)
    path.write_text(json.dumps({**base, "points": [{"step": 1, "hours": 0, "hardware": "tpu", **{s: 0.5 for s in SCORES}}]}))
    with pytest.raises(ValueError, match="hardware 'cpu' or 'gpu'"):
        load_curve(path)
    path.write_text(json.dumps({"points": []}))
    with pytest.raises(ValueError, match="no 'ceiling' entry"):
        load_curve(path)
