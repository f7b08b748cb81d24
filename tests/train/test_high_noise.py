"""`high_noise_rate`: a share of DiT training timesteps near pure noise, where the layout comes from the text."""

import torch
from typer.testing import CliRunner

from kinema.cli import app
from kinema.diffusion.flow import with_high_noise
from kinema.models.dit import TextContext
from kinema.train.dit import DiTTrainConfig, _draw
from kinema.train.latents import LatentBatch


def batch_of(frames: int) -> LatentBatch:
    n, length = 64, 4
    return LatentBatch(torch.zeros(n, 16, frames, 8, 8), torch.zeros(n, length, 384), torch.ones(n, length, dtype=torch.bool),
                       torch.zeros(n, 384), ["a caption"] * n)


def test_high_noise_redraws_a_share_of_timesteps_into_the_band() -> None:
    t = torch.full((20_000,), 0.3)
    out = with_high_noise(t, 0.25, 0.85, torch.Generator().manual_seed(0))
    moved = out != 0.3
    assert abs(float(moved.float().mean()) - 0.25) < 0.02
    assert float(out[moved].min()) >= 0.85 and float(out[moved].max()) <= 1.0
    assert abs(float(out[moved].mean()) - 0.925) < 0.01  # uniform over the band
    assert torch.equal(with_high_noise(t, 0.0, 0.85), t)


def test_training_draws_reach_the_band_only_with_high_noise() -> None:
    """For 64x64 images the shifted logit-normal almost never trains above t = 0.9, where the layout is decided."""
    empty = TextContext(torch.zeros(1, 1, 384), torch.ones(1, 1, dtype=torch.bool), torch.zeros(1, 384))
    share = {}
    for rate in (0.0, 0.5):
        cfg = DiTTrainConfig(high_noise_rate=rate, condition_rate=0.0)
        t = torch.cat([_draw(batch_of(1), cfg, empty, torch.Generator().manual_seed(s), torch.device("cpu"))[2][:, 0] for s in range(20)])
        share[rate] = float((t > 0.9).float().mean())
    assert share[0.0] < 0.01 and share[0.5] > 0.25


def test_high_noise_options_out_of_range_are_clear_errors(tmp_path) -> None:
    for option, value, message in (("--high-noise-rate", "1.5", "--high-noise-rate 1.5 must be in [0, 1]"),
                                   ("--high-noise-from", "1", "--high-noise-from 1.0 must be in [0, 1)")):
        for command in (["train", "dit", "--cache", str(tmp_path)], ["train", "stream", "--init", "weights/kinema-tiny"]):
            result = CliRunner().invoke(app, [*command, "--run", str(tmp_path / "run"), option, value])
            assert result.exit_code == 2, result.output
            assert message in " ".join(result.output.split())
