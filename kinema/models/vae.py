"""Causal 3D convolutional video VAE: 8x spatial and 4x temporal compression.

Contract: `VideoVAE.encode(video)` maps pixels (B, 3, 1 + 4k, H, W) in [-1, 1] to a latent
posterior over (B, C, 1 + k, H/8, W/8); `decode(latent)` maps back. The first frame is encoded on
its own (every convolution looks only backward in time, and each temporal downsampling keeps frame
0 alone while pairing the rest: 1 + 4k -> 1 + 2k -> 1 + k), so a single image is a valid 1-frame
video and images and videos share one latent space, as in CogVideoX, LTX-Video and Open-Sora 2.

Causality also makes long videos cheap and seamless: `decode(..., chunk_frames=n)` decodes n latent
frames at a time while every causal convolution carries its last input frames over to the next
chunk, which gives exactly the same output as decoding the whole video at once.

Cost is kept low for CPUs: the full-resolution stage is a 2x2 space-to-depth (no convolutions at
64x64), convolutions are (2+1)D (per-frame 3x3 Conv2d, then a causal 3-frame temporal mix), and
temporal mixing starts at 1/4 resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

TEMPORAL = 4  # latent frame stride
SPATIAL = 8  # latent pixel stride


@dataclass(frozen=True)
class VAEConfig:
    latent_channels: int = 16  # a handful: enough for exact palette colors and small objects at 8x
    channels: tuple[int, int, int] = (32, 96, 192)  # widths at 1/2, 1/4, 1/8 resolution
    blocks: int = 1  # residual blocks per stage
    kl_weight: float = 1e-6  # a light KL keeps the latent smooth without blurring it
    # Per-channel latent normalisation (measured on world clips after training), so the diffusion
    # model sees roughly unit-variance latents.
    latent_mean: tuple[float, ...] = ()
    latent_std: tuple[float, ...] = ()


class CausalConv3d(nn.Module):
    """Conv3d padded only on the past side in time ('same' in space).

    With `cache` (a dict shared across chunks) it stores its last kt-1 input frames and uses them
    instead of padding on the next call, so chunked processing equals whole-clip processing.
    """

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int] = (3, 3, 3)) -> None:
        super().__init__()
        self.kt = kernel[0]
        self.conv = nn.Conv3d(cin, cout, kernel, padding=(0, kernel[1] // 2, kernel[2] // 2))

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        if self.kt > 1:
            past = None if cache is None else cache.get(id(self))
            if past is None:  # start of the clip: repeat the first frame as the past
                past = x[:, :, :1].expand(-1, -1, self.kt - 1, -1, -1)
            x = torch.cat([past, x], dim=2)
            if cache is not None:
                cache[id(self)] = x[:, :, -(self.kt - 1) :].detach()
        return self.conv(x)


class FrameNorm(nn.Module):
    """GroupNorm per frame: statistics never mix time steps, which would break causality."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(8, channels // 4), channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        x = rearrange(x, "b c t h w -> (b t) c h w")
        return rearrange(self.norm(x), "(b t) c h w -> b c t h w", b=b)


class SpatialConv(nn.Module):
    """3x3 convolution applied to each frame (Conv2d: much faster than Conv3d on CPUs)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        b = x.shape[0]
        y = self.conv(rearrange(x, "b c t h w -> (b t) c h w"))
        return rearrange(y, "(b t) c h w -> b c t h w", b=b)


class ResBlock(nn.Module):
    """Pre-norm residual block with (2+1)D convolutions: 3x3 in space, then (if `temporal`) a
    causal 3-frame mix in time. 21 C^2 multiply-adds per voxel instead of 54 for two 3x3x3 convs."""

    def __init__(self, channels: int, temporal: bool) -> None:
        super().__init__()
        self.norm1, self.conv1 = FrameNorm(channels), SpatialConv(channels, channels)
        self.time = CausalConv3d(channels, channels, (3, 1, 1)) if temporal else None
        self.norm2, self.conv2 = FrameNorm(channels), SpatialConv(channels, channels)

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time is not None:
            h = h + self.time(h, cache)
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


class Down(nn.Module):
    """Space(-time)-to-depth by 2, then a 1x1x1 mix: cheap, and causal in time by construction.

    In time, frame 0 stays alone (paired with itself) and later frames pair up, so 1 + 2m frames
    become 1 + m: the first frame never mixes with later ones and images cost one frame, not four.
    """

    def __init__(self, cin: int, cout: int, time: bool) -> None:
        super().__init__()
        self.pt = 2 if time else 1
        self.proj = nn.Conv3d(cin * 4 * self.pt, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pt == 2:
            x = torch.cat([x[:, :, :1], x], dim=2)
        x = rearrange(x, "b c (t pt) (h ph) (w pw) -> b (c pt ph pw) t h w", pt=self.pt, ph=2, pw=2)
        return self.proj(x)


class Up(nn.Module):
    """1x1x1 projection, then depth-to-space(-time) by 2: the mirror of Down (1 + m -> 1 + 2m
    frames: the pair made from latent frame 0 is one frame, so its first half is dropped)."""

    def __init__(self, cin: int, cout: int, time: bool) -> None:
        super().__init__()
        self.pt = 2 if time else 1
        self.proj = nn.Conv3d(cin, cout * 4 * self.pt, 1)

    def forward(self, x: torch.Tensor, starts_clip: bool = True) -> torch.Tensor:
        x = rearrange(self.proj(x), "b (c pt ph pw) t h w -> b c (t pt) (h ph) (w pw)", pt=self.pt, ph=2, pw=2)
        return x[:, :, 1:] if self.pt == 2 and starts_clip else x


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c0, c1, c2 = cfg.channels
        self.stem = Down(3, c0, time=False)  # 1/2 space
        self.stage0 = nn.ModuleList(ResBlock(c0, temporal=False) for _ in range(cfg.blocks))
        self.down1 = Down(c0, c1, time=True)  # 1/4 space, 1/2 time
        self.stage1 = nn.ModuleList(ResBlock(c1, temporal=True) for _ in range(cfg.blocks))
        self.down2 = Down(c1, c2, time=True)  # 1/8 space, 1/4 time
        self.stage2 = nn.ModuleList(ResBlock(c2, temporal=True) for _ in range(cfg.blocks + 1))
        self.norm_out = FrameNorm(c2)
        self.conv_out = SpatialConv(c2, 2 * cfg.latent_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.stage0:
            x = block(x)
        x = self.down1(x)
        for block in self.stage1:
            x = block(x)
        x = self.down2(x)
        for block in self.stage2:
            x = block(x)
        return self.conv_out(F.silu(self.norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c0, c1, c2 = cfg.channels
        self.conv_in = SpatialConv(cfg.latent_channels, c2)
        self.stage2 = nn.ModuleList(ResBlock(c2, temporal=True) for _ in range(cfg.blocks + 1))
        self.up2 = Up(c2, c1, time=True)
        self.stage1 = nn.ModuleList(ResBlock(c1, temporal=True) for _ in range(cfg.blocks))
        self.up1 = Up(c1, c0, time=True)
        self.stage0 = nn.ModuleList(ResBlock(c0, temporal=False) for _ in range(cfg.blocks + 1))
        self.norm_out = FrameNorm(c0)
        self.head = Up(c0, 3, time=False)

    def forward(self, z: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        starts_clip = cache is None or not cache.get("started", False)
        x = self.conv_in(z, cache)
        for block in self.stage2:
            x = block(x, cache)
        x = self.up2(x, starts_clip)
        for block in self.stage1:
            x = block(x, cache)
        x = self.up1(x, starts_clip)
        for block in self.stage0:
            x = block(x, cache)
        if cache is not None:
            cache["started"] = True
        return self.head(F.silu(self.norm_out(x)))


def latent_frames(frames: int) -> int:
    """Latent frames for a clip of `frames` pixel frames (1 + 4k -> 1 + k)."""
    if frames < 1 or (frames - 1) % TEMPORAL:
        raise ValueError(f"the VAE takes 1 + 4k frames (1, 5, 9, ..., 33, ..., 65), got {frames}")
    return 1 + (frames - 1) // TEMPORAL


class VideoVAE(nn.Module):
    def __init__(self, cfg: VAEConfig = VAEConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        c = cfg.latent_channels
        mean = torch.tensor(cfg.latent_mean) if cfg.latent_mean else torch.zeros(c)
        std = torch.tensor(cfg.latent_std) if cfg.latent_std else torch.ones(c)
        self.register_buffer("latent_mean", mean.view(1, c, 1, 1, 1), persistent=True)
        self.register_buffer("latent_std", std.view(1, c, 1, 1, 1), persistent=True)

    @staticmethod
    def _check(video: torch.Tensor) -> None:
        if video.ndim != 5 or video.shape[1] != 3:
            raise ValueError(f"expected pixels (B, 3, T, H, W), got shape {tuple(video.shape)}")
        latent_frames(video.shape[2])
        if video.shape[3] % SPATIAL or video.shape[4] % SPATIAL:
            raise ValueError(f"height and width must be multiples of {SPATIAL}, got {video.shape[3]}x{video.shape[4]}")

    def encode_moments(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance (B, C, 1 + k, H/8, W/8) of pixels in [-1, 1]."""
        self._check(video)
        mean, logvar = self.encoder(video).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def encode(self, video: torch.Tensor, sample: bool = False) -> torch.Tensor:
        """Normalised latent (unit variance per channel) for the diffusion model."""
        mean, logvar = self.encode_moments(video)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp() if sample else mean
        return (z - self.latent_mean) / self.latent_std

    def decode(self, latent: torch.Tensor, chunk_frames: int | None = None) -> torch.Tensor:
        """Pixels in about [-1, 1] from a normalised latent; chunked decoding is seamless and exact."""
        if latent.ndim != 5 or latent.shape[1] != self.cfg.latent_channels:
            raise ValueError(f"expected latent (B, {self.cfg.latent_channels}, F, h, w), got {tuple(latent.shape)}")
        z = latent * self.latent_std + self.latent_mean
        if chunk_frames is None or chunk_frames >= z.shape[2]:
            return self.decoder(z)
        cache: dict = {}
        pieces = [self.decoder(z[:, :, start : start + chunk_frames], cache) for start in range(0, z.shape[2], chunk_frames)]
        return torch.cat(pieces, dim=2)

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training pass: reconstruction and KL term."""
        mean, logvar = self.encode_moments(video)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        recon = self.decoder(z)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
        return recon, kl
