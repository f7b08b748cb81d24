"""Training the video VAE on world clips.

Loss: mean squared error plus L1 on pixels (PSNR is what we report; L1 keeps flat colors exact),
pixels of objects and trails weighted up (they are a small part of the frame but all of its
meaning), and a light KL. After training, per-channel latent statistics are measured on fresh
clips and stored in the VAE so the diffusion model sees unit-variance latents.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinema.models.vae import ResBlock, VAEConfig, VideoVAE
from kinema.train.checkpoint import save_weights
from kinema.train.distributed import ParallelConfig, split_rows
from kinema.train.data import WorldBatch, WorldData, world_batch
from kinema.train.ema import EMA
from kinema.train.runner import Job, OptimConfig, run

VAE_BUCKETS = ((64, 64, 1), (64, 64, 5), (64, 64, 9), (96, 64, 5), (64, 96, 5), (112, 64, 5), (32, 32, 9), (128, 128, 1))
OBJECT_WEIGHT = 4.0  # extra loss weight on pixels that differ from the frame's dominant color


@dataclass(frozen=True)
class VAETrainConfig:
    vae: VAEConfig = VAEConfig()
    data: WorldData = WorldData(buckets=VAE_BUCKETS, pixel_budget=64 * 64 * 9 * 8, distribution="full", short_caption_rate=0.0)
    optim: OptimConfig = OptimConfig(steps=4000, lr=5e-4, warmup=100, ema_decay=0.995, checkpoint_every=100)
    # False: fine-tune the decoder only. The encoder and its latent statistics stay as they are, so
    # a DiT trained on this VAE's latents (and any latent cache) stays valid while decoding improves.
    train_encoder: bool = True


def pixel_weights(pixels: torch.Tensor) -> torch.Tensor:
    """1 on background, 1 + OBJECT_WEIGHT where a pixel differs clearly from the frame's median."""
    median = pixels.flatten(3).median(dim=-1).values[..., None, None]  # (B, 3, T, 1, 1)
    differs = (pixels - median).abs().amax(dim=1, keepdim=True) > 0.15
    return 1.0 + OBJECT_WEIGHT * differs.float()


def vae_loss(model: nn.Module, batch: WorldBatch, kl_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    x = batch.pixels.to(next(model.parameters()).device)
    recon, kl = model(x)
    weights = pixel_weights(x)
    err = recon.float() - x
    mse = (err.pow(2) * weights).mean() / weights.mean()
    l1 = (err.abs() * weights).mean() / weights.mean()
    with torch.no_grad():
        psnr = 10 * torch.log10(4.0 / err.pow(2).mean().clamp(min=1e-10))  # range [-1, 1] spans 2
    return mse + 0.1 * l1 + kl_weight * kl, {"psnr": float(psnr), "kl": float(kl.detach())}


@dataclass
class PixelPiece:
    """Rows of one step's batch with the whole batch's loss normalisers (data-parallel training)."""

    pixels: torch.Tensor  # (b, 3, T, H, W)
    weight_sum: float  # sum of pixel_weights over the whole batch, counted once per color channel
    fraction: float  # b / whole batch size (the KL is a mean over equally sized samples)


def pixel_piece(batch: WorldBatch, index: int, parts: int) -> PixelPiece:
    rows = split_rows(len(batch), index, parts)
    # The weights are (B, 1, T, H, W) but weigh errors over all 3 channels (vae_loss takes means of both).
    weight_sum = float(pixel_weights(batch.pixels).sum()) * batch.pixels.shape[1]
    return PixelPiece(batch.pixels[rows], weight_sum, (rows.stop - rows.start) / len(batch))


def vae_piece_loss(model: nn.Module, piece: PixelPiece, kl_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The piece's share of `vae_loss` over the whole batch (shares of all pieces sum to it; the
    posterior noise is drawn per piece, so different splits differ by that noise only)."""
    x = piece.pixels.to(next(model.parameters()).device)
    recon, kl = model(x)
    weights = pixel_weights(x)
    err = recon.float() - x
    mse = (err.pow(2) * weights).sum() / piece.weight_sum
    l1 = (err.abs() * weights).sum() / piece.weight_sum
    with torch.no_grad():
        psnr = 10 * torch.log10(4.0 / err.pow(2).mean().clamp(min=1e-10))
    return mse + 0.1 * l1 + kl_weight * kl * piece.fraction, {"psnr": float(psnr), "kl": float(kl.detach())}


@torch.no_grad()
def measure_latent_stats(vae: VideoVAE, data: WorldData, batches: int = 8) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of raw latents over fresh world clips."""
    zs = []
    for i in range(batches):
        pixels = world_batch(10_000_000 + i, data, with_captions=False).pixels.to(vae.latent_mean.device)
        mean, _ = vae.encode_moments(pixels)
        zs.append(mean.transpose(0, 1).flatten(1))
    z = torch.cat(zs, dim=1)
    return z.mean(1).cpu().tolist(), z.std(1).clamp(min=1e-3).cpu().tolist()


def export_vae(vae: VideoVAE, data: WorldData, folder: Path, keep_stats: bool = False) -> VAEConfig:
    """Store EMA weights with measured latent statistics (or, `keep_stats`, the ones the VAE
    already holds: a decoder-only fine-tune), ready for the DiT and for shipping."""
    vae = vae.eval()
    if keep_stats:
        mean, std = list(vae.cfg.latent_mean), list(vae.cfg.latent_std)  # exact (the buffers went through fp16)
    else:
        mean, std = measure_latent_stats(vae, data)
    cfg = replace(vae.cfg, latent_mean=tuple(mean), latent_std=tuple(std))
    vae.latent_mean.copy_(torch.tensor(mean).view_as(vae.latent_mean))
    vae.latent_std.copy_(torch.tensor(std).view_as(vae.latent_std))  # (the EMA copies buffers back each step)
    save_weights(folder, "vae", vae, {"vae": asdict(cfg)})
    return cfg


def train_vae(cfg: VAETrainConfig, run_dir: Path, export_to: Path | None = None, progress: bool = True,
              init_state: dict[str, Any] | None = None, device: str = "cpu", parallel: ParallelConfig = ParallelConfig()) -> VideoVAE:
    torch.manual_seed(cfg.data.seed)
    model = VideoVAE(cfg.vae)
    if not cfg.train_encoder:
        if init_state is None:
            raise ValueError("a decoder-only fine-tune starts from trained weights: pass the VAE to fine-tune (--init)")
        model.encoder.requires_grad_(False)

    def on_checkpoint(step: int, ema: EMA) -> None:
        if export_to is not None:
            export_vae(ema.model, cfg.data, Path(export_to), keep_stats=not cfg.train_encoder)

    job = Job(
        name="vae",
        model=model,
        next_batch=lambda step: world_batch(step, cfg.data, with_captions=False),
        loss=lambda m, b: vae_piece_loss(m, b, cfg.vae.kl_weight) if isinstance(b, PixelPiece) else vae_loss(m, b, cfg.vae.kl_weight),
        config={"vae": asdict(cfg.vae), "data": asdict(cfg.data), "train_encoder": cfg.train_encoder},
        on_checkpoint=on_checkpoint,
        items_per_batch=len,
        shard=pixel_piece,
        blocks=lambda m: [layer for layer in m.modules() if isinstance(layer, ResBlock)],
    )
    run(job, cfg.optim, run_dir, progress=progress, init_state=init_state, device=device, parallel=parallel)
    return model
