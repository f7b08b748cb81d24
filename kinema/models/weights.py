"""Loading a weights folder's models (vae.json + vae*.safetensors, dit.json + dit*.safetensors).

Kept apart from kinema.pipeline so that training code loads models without importing what
sampling and video files need (PyAV, safety layers): a bare GPU machine trains with torch alone.
`kinema.pipeline.load_vae` and `load_dit` are these functions.
"""

from __future__ import annotations

from pathlib import Path

from kinema.models.dit import DiT, DiTConfig
from kinema.models.vae import VAEConfig, VideoVAE
from kinema.train.checkpoint import load_config, load_weights


def load_vae(folder: Path | str) -> VideoVAE:
    """The VAE of a weights folder (vae.json + vae*.safetensors), in eval mode."""
    raw = load_config(Path(folder), "vae")["vae"]
    cfg = VAEConfig(**{**raw, "channels": tuple(raw["channels"]), "latent_mean": tuple(raw["latent_mean"]),
                       "latent_std": tuple(raw["latent_std"])})
    vae = VideoVAE(cfg)
    vae.load_state_dict(load_weights(Path(folder), "vae"))
    return vae.eval()


def load_dit_config(folder: Path | str) -> DiTConfig:
    """The DiT configuration of a weights folder (its dit.json)."""
    raw = load_config(Path(folder), "dit")["dit"]
    return DiTConfig(**{**raw, "patch": tuple(raw["patch"])})


def load_dit(folder: Path | str) -> DiT:
    """The diffusion transformer of a weights folder (dit.json + dit*.safetensors), in eval mode."""
    dit = DiT(load_dit_config(folder))
    dit.load_state_dict(load_weights(Path(folder), "dit"))
    return dit.eval()
