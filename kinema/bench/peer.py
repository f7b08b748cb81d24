"""The peer: a randomly initialised diffusers `WanTransformer3DModel` matched to a Kinema DiT.

Wan is the closest published design (patch 1x2x2, 3D RoPE, QK RMS-norm, self- and cross-attention
to text tokens, adaLN-style modulation from the timestep). Matched: width (heads x head dim),
depth, heads, MLP width, patch, latent channels, text width, timestep-feature width, and the inputs
(same latent grid, same text length, same batch). Its weights are random: only its speed is used.

diffusers is a benchmark dependency only; it is imported lazily and a missing install is reported
as `PeerUnavailable` with the command that fixes it, never as a traceback.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from kinema.models.dit import DiTConfig


class PeerUnavailable(RuntimeError):
    """diffusers (or its Wan transformer) is not installed."""


def wan_config(cfg: DiTConfig) -> dict[str, Any]:
    """WanTransformer3DModel keyword arguments for the same-size model as `cfg`."""
    if cfg.width % cfg.heads:
        raise ValueError(f"width {cfg.width} must be divisible by heads {cfg.heads}")
    return {
        "patch_size": tuple(cfg.patch),
        "num_attention_heads": cfg.heads,
        "attention_head_dim": cfg.width // cfg.heads,
        "in_channels": cfg.latent_channels,
        "out_channels": cfg.latent_channels,
        "text_dim": cfg.text_dim,
        "freq_dim": cfg.frequency_dim,
        "ffn_dim": int(cfg.width * cfg.mlp_ratio),
        "num_layers": cfg.depth,
        "cross_attn_norm": True,
        "qk_norm": "rms_norm_across_heads",
        "eps": 1e-6,
        "rope_max_seq_len": 1024,
    }


def build_peer(cfg: DiTConfig, seed: int = 0) -> nn.Module:
    """The matched Wan transformer, randomly initialised, fp32, eval mode."""
    try:
        from diffusers import WanTransformer3DModel
    except ImportError as error:
        raise PeerUnavailable(
            "the diffusers peer needs diffusers with WanTransformer3DModel (pip install 'diffusers>=0.33'); "
            f"import failed: {error}"
        ) from None
    torch.manual_seed(seed)
    return WanTransformer3DModel(**wan_config(cfg)).eval()


def peer_forward(peer: nn.Module, latent: torch.Tensor, timesteps: torch.Tensor, text_tokens: torch.Tensor) -> torch.Tensor:
    """One forward on Kinema's inputs: latent (B, C, F, H, W), timesteps (B,) in [0, 1] (Wan takes
    0..1000), raw text token states (B, T, text_dim)."""
    return peer(hidden_states=latent, timestep=timesteps * 1000.0, encoder_hidden_states=text_tokens, return_dict=False)[0]
