"""benchmarks/direction_probe.py: the travel measure, its verdicts, seed agreement, and the probe on
the world's exact renders (which follow every asked way) and on a tiny model."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from direction_probe import WAYS, classify, probe, prompt_for, seed_agreement, travel  # noqa: E402


def _clip(xs: list[int | None], size: int = 32) -> list[np.ndarray]:
    """A red 4x4 square at column x (None: off frame) in each frame, on black."""
    frames = []
    for x in xs:
        frame = np.zeros((size, size, 3), dtype=np.uint8)
        if x is not None:
            frame[14:18, x : x + 4] = (230, 20, 20)
        frames.append(frame)
    return frames


def test_travel_fits_the_first_visible_run_over_the_whole_clip() -> None:
    moved = travel(_clip([20, 18, 16, 14, 12]))  # 2 px a frame leftward over 4 frame steps
    assert moved == pytest.approx((-8 / 32, 0.0))
    # The object leaves after three frames; a blob seen later is not part of its run.
    moved = travel(_clip([10, 12, 14, None, 2]))
    assert moved == pytest.approx((2 / 32 * 4, 0.0))
    assert travel(_clip([None, 10, None, None, None])) is None


def test_classify_tells_standing_still_the_asked_way_and_the_opposite() -> None:
    assert classify(None, "left") == (False, False, False)
    assert classify((0.01, 0.0), "left") == (False, False, False)
    assert classify((-0.3, 0.05), "left") == (True, True, False)
    assert classify((0.3, 0.05), "left") == (True, False, True)
    assert classify((0.0, 0.3), "left") == (True, False, False)  # down: neither


def test_seed_agreement_is_one_when_the_noise_sets_the_way_and_minus_a_third_when_words_do() -> None:
    same = {(way, "square", 0): (0.2, 0.1) for way in WAYS}
    assert seed_agreement(same) == pytest.approx(1.0)
    followed = {(way, "square", 0): tuple(0.3 * v for v in vector) for way, (_, vector) in WAYS.items()}
    assert seed_agreement(followed) == pytest.approx(-1 / 3, abs=1e-3)
    assert seed_agreement({("left", "square", 0): None, ("right", "square", 0): (0.2, 0.0)}) is None


def test_the_worlds_own_renders_move_every_way_they_are_asked() -> None:
    result = probe("world", seeds=1)
    assert result["clips"] == 8 and result["moving"] == 1.0 and result["asked_way"] == 1.0 and result["opposite"] == 0.0
    assert result["seed_agreement"] == pytest.approx(-1 / 3, abs=0.01)
    assert result["per_way"]["left"]["mean_travel"][0] < -0.2 and result["per_way"]["down"]["mean_travel"][1] > 0.2


def test_probe_runs_a_weights_folder(tiny_weights: Path) -> None:
    result = probe(str(tiny_weights), seeds=1, frames=5, guidance=3.0, start="far")
    assert result["clips"] == 8 and result["frames"] == 5 and result["guidance"] == 3.0
    assert 0.0 <= result["asked_way"] + result["opposite"] <= result["moving"] <= 1.0
    assert set(result["per_way"]) == set(WAYS)


def test_start_places_the_object_far_from_near_to_or_between_its_ways() -> None:
    assert "on the right slides to the left" in prompt_for("square", "left", "far")
    assert "at the top slides up" in prompt_for("circle", "up", "near")
    assert "in the center slides down" in prompt_for("circle", "down")
    far = probe("world", seeds=1, start="far")
    assert far["start"] == "far" and far["asked_way"] == 1.0 and far["opposite"] == 0.0
    # Heading for the near edge, the world's slide must stop short of it: it hardly moves, and
    # never the opposite way (a model that does moves away from the named place, not as told).
    near = probe("world", seeds=1, start="near")
    assert near["moving"] == 0.0 and near["opposite"] == 0.0
    assert near["per_way"]["left"]["mean_travel"][0] < 0
