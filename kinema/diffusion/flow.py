"""Rectified flow: the training objective, timestep sampling and the resolution shift.

Convention (as SD3/Flux): x_t = (1 - t) * x0 + t * noise, t = 0 clean, t = 1 pure noise; the model
predicts the velocity v = noise - x0, so dx_t/dt = v and sampling integrates from t = 1 to 0.

Every latent frame carries its own timestep. A `keep` mask (B, F) marks frames given clean (t = 0,
never noised, no loss): image-to-video, extension, interpolation and loops are only masks.
"""

from __future__ import annotations

import math

import torch


def resolution_shift(tokens: int, base_tokens: int = 144, base_shift: float = 1.0) -> float:
    """Timestep shift for a token count: more tokens keep more signal at a given t, so shift toward
    noise by sqrt(tokens / base) (SD3's rule), equal to `base_shift` at the base size."""
    return base_shift * math.sqrt(tokens / base_tokens)


def shift_timesteps(t: torch.Tensor, shift: float) -> torch.Tensor:
    """Map t in [0, 1] toward 1 (noisier) for shift > 1: t' = s t / (1 + (s - 1) t)."""
    return shift * t / (1 + (shift - 1) * t)


def sample_timesteps(batch: int, shift: float = 1.0, mean: float = 0.0, std: float = 1.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Logit-normal timesteps (SD3): most training where the velocity is hardest to predict."""
    t = torch.sigmoid(mean + std * torch.randn(batch, generator=generator))
    return shift_timesteps(t, shift)


def with_high_noise(t: torch.Tensor, rate: float, low: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """`t` with a `rate` share of its entries redrawn uniformly from [low, 1].

    Where an object goes is decided from the text alone only near pure noise: until t ~ 0.9 the
    noisy latent of a 64x64 image still shows where its object is, and a clip's frames show it to
    higher t. The logit-normal draws, shifted toward clean for small grids, almost never land
    there, so a model trained on them leaves the layout to the noise (benchmarks/layout_band.py).
    """
    if rate <= 0:
        return t
    redraw = torch.rand(t.shape, generator=generator) < rate
    band = low + (1 - low) * torch.rand(t.shape, generator=generator)
    return torch.where(redraw, band, t)


def noise_latents(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t for per-frame timesteps t (B, F) on latents (B, C, F, H, W)."""
    tt = t[:, None, :, None, None]
    return (1 - tt) * x0 + tt * noise


def frame_timesteps(t: torch.Tensor, keep: torch.Tensor | None, frames: int) -> torch.Tensor:
    """Per-frame timesteps (B, F) from one t per sample; kept frames get t = 0."""
    per_frame = t[:, None].expand(-1, frames).clone()
    if keep is not None:
        per_frame[keep] = 0.0
    return per_frame


def flow_loss(velocity: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """Mean squared velocity error over generated frames only (kept frames are given, not learned)."""
    err = (velocity - (noise - x0)).pow(2).mean(dim=(1, 3, 4))  # (B, F)
    if keep is None:
        return err.mean()
    weight = (~keep).float()
    return (err * weight).sum() / weight.sum().clamp(min=1.0)
