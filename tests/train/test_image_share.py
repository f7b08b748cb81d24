"""`image_share`: how DiT batches split between single images and videos (kinema.train.latents.pick_shape),
the same rule for the latent cache (`kinema train dit --image-share`) and the GPU stream's pool."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from kinema.cli import app
from kinema.train.latents import LatentCache, pick_shape

IMAGE, CLIP, LONG = (16, 1, 8, 8), (16, 5, 8, 8), (16, 9, 8, 8)
COUNTS = {IMAGE: 800, CLIP: 150, LONG: 50}  # a world cache holds far more images than clips


def _shares(image_share: float | None, draws: int = 4000) -> dict[tuple[int, ...], float]:
    picks = [pick_shape(COUNTS, np.random.default_rng([0, step]), image_share) for step in range(draws)]
    return {key: picks.count(key) / draws for key in COUNTS}


def test_without_a_share_shapes_come_in_proportion_to_their_clips() -> None:
    shares = _shares(None)
    assert shares[IMAGE] == pytest.approx(0.8, abs=0.03) and shares[LONG] == pytest.approx(0.05, abs=0.015)


def test_a_share_sets_the_image_batches_and_splits_the_rest_by_clips() -> None:
    shares = _shares(0.2)
    assert shares[IMAGE] == pytest.approx(0.2, abs=0.03)
    assert shares[CLIP] == pytest.approx(0.8 * 0.75, abs=0.03) and shares[LONG] == pytest.approx(0.8 * 0.25, abs=0.03)
    assert _shares(0.0, 200)[IMAGE] == 0.0 and _shares(1.0, 200)[IMAGE] == 1.0


def test_a_share_cannot_ask_for_what_is_not_there() -> None:
    rng = np.random.default_rng(0)
    assert pick_shape({IMAGE: 5}, rng, 0.0) == IMAGE  # only images: images, whatever the share
    assert pick_shape({CLIP: 5, IMAGE: 0}, rng, 1.0) == CLIP
    with pytest.raises(ValueError, match="no clips"):
        pick_shape({IMAGE: 0}, rng, 0.2)


def _cache(folder: Path) -> Path:
    folder.mkdir()
    for index, (frames, n) in enumerate(((1, 40), (5, 4))):
        tensors = {"latents": torch.zeros(n, 16, frames, 4, 4, dtype=torch.float16), "tokens": torch.zeros(n, 3, 384, dtype=torch.float16),
                   "mask": torch.ones(n, 3, dtype=torch.bool), "pooled": torch.zeros(n, 384, dtype=torch.float16)}
        save_file(tensors, str(folder / f"shard_{index:06d}.safetensors"))
        (folder / f"shard_{index:06d}.json").write_text(f'{{"captions": {["a caption"] * n!r}, "bucket": [32, 32, {4 * (frames - 1) + 1}]}}'.replace("'", '"'))
    return folder


def test_the_latent_cache_draws_batches_by_the_share(tmp_path: Path) -> None:
    cache = _cache(tmp_path / "cache")
    frames = lambda c: [c.batch(step).latents.shape[2] for step in range(300)]  # noqa: E731
    proportional, videos_first = frames(LatentCache(cache)), frames(LatentCache(cache, image_share=0.2))
    assert proportional.count(1) / 300 > 0.8  # 40 images to 4 clips
    assert videos_first.count(1) / 300 == pytest.approx(0.2, abs=0.07)
    assert frames(LatentCache(cache)) == proportional  # seeded by step: a resumed run draws the same batches
    with pytest.raises(ValueError, match=r"image_share 1.5 must be in \[0, 1\]"):
        LatentCache(cache, image_share=1.5)


def test_image_share_out_of_range_is_a_clear_cli_error(tmp_path: Path) -> None:
    for command in (["train", "dit", "--cache", str(tmp_path)], ["train", "stream", "--init", "weights/kinema-tiny"]):
        result = CliRunner().invoke(app, [*command, "--run", str(tmp_path / "run"), "--image-share", "-0.1"])
        assert result.exit_code == 2, result.output
        assert "--image-share -0.1 must be in [0, 1]" in " ".join(result.output.split())
