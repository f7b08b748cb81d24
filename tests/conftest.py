"""Shared fixtures: a tiny, untrained Kinema model saved as a real weights folder (fast)."""

from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from kinema.models.dit import DiT, DiTConfig
from kinema.models.vae import VAEConfig, VideoVAE
from kinema.pipeline import Pipeline
from kinema.train.checkpoint import save_weights


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("weights") / "kinema-test"
    torch.manual_seed(0)
    vae_cfg = VAEConfig(latent_channels=4, channels=(8, 8, 16), latent_mean=(0.0,) * 4, latent_std=(1.0,) * 4)
    save_weights(folder, "vae", VideoVAE(vae_cfg), {"vae": asdict(vae_cfg)})
    dit_cfg = DiTConfig(latent_channels=4, width=32, depth=2, heads=2)
    save_weights(folder, "dit", DiT(dit_cfg), {"dit": asdict(dit_cfg)})
    return folder


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_weights: Path) -> Pipeline:
    return Pipeline.from_pretrained(tiny_weights)
