"""Diffusion transformer over spacetime patches of the video latent (DiT with adaLN-Zero).

Contract: `DiT(latent, timesteps, text)` returns the rectified-flow velocity with the latent's
shape (B, C, F, H, W). `timesteps` is (B,) or per latent frame (B, F): a frame with t = 0 is given
clean (image/video conditioning), others are being generated, and each frame's tokens are
modulated by their own timestep. Any latent grid works (3D RoPE positions and, optionally, Fourier
features of each token's fractional place in the frame; no learned position table), so one model
serves every size, aspect ratio and duration.

Reads top to bottom like the DiT paper: patch embedding, conditioning, block, final layer, model,
presets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from einops import rearrange
from torch import nn

from kinema.models.layers import (
    MLP,
    AttentionFn,
    CrossAttention,
    SelfAttention,
    modulate,
    rope_frequencies,
    split_rope_dims,
    timestep_embedding,
)


@dataclass(frozen=True)
class DiTConfig:
    latent_channels: int = 16  # must match the VAE
    patch: tuple[int, int, int] = (1, 2, 2)  # (frames, rows, cols) of latent per token
    width: int = 256
    depth: int = 8
    heads: int = 4
    mlp_ratio: float = 4.0
    text_dim: int = 384  # width of a text token state: MiniLM-L6's hidden size (768 with word_states)
    frequency_dim: int = 256  # sinusoidal timestep features
    # Fourier features of each token's fractional (row, column) place in the frame, added to the
    # tokens through a zero-initialised layer (0: none, RoPE only). RoPE tells attention only
    # relative offsets; "on the left" needs the absolute place. Fractions keep it size-independent.
    position_features: int = 0
    # Text tokens are MiniLM's last layer and its input (word-piece) layer side by side: the last
    # layer alone barely tells "left" from "right" (kinema.text.encoder). The encoder must match.
    word_states: bool = False


PRESETS: dict[str, DiTConfig] = {
    # The shipped CPU model: 12M parameters, 144 tokens for a 4-second 64x64 clip.
    "tiny": DiTConfig(width=256, depth=8, heads=4),
    "small": DiTConfig(width=384, depth=12, heads=6),  # 40M, one GPU
    "base": DiTConfig(width=768, depth=12, heads=12),  # 160M, a GPU node
    "large": DiTConfig(width=1024, depth=24, heads=16),  # 561M
    "xl": DiTConfig(width=1280, depth=28, heads=20),  # 1.0B, multi-node FSDP (docs/scale.md)
}


@dataclass
class TextContext:
    """Text conditioning as the model consumes it (token states, padding mask, pooled vector)."""

    tokens: torch.Tensor  # (B, L, text_dim)
    mask: torch.Tensor  # (B, L) bool
    pooled: torch.Tensor  # (B, text_dim)


class DiTBlock(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.width
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(d, cfg.heads)
        self.norm_cross = nn.LayerNorm(d, eps=1e-6)
        self.cross = CrossAttention(d, d, cfg.heads)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.mlp = MLP(d, cfg.mlp_ratio)
        # adaLN-Zero: shift/scale/gate for attention and MLP from the (per-frame) conditioning.
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))

    def forward(
        self,
        x: torch.Tensor,  # (B, F, S, d): tokens grouped by latent frame
        cond: torch.Tensor,  # (B, F, d)
        rotations: torch.Tensor,
        text_kv: tuple[torch.Tensor, torch.Tensor],
        text_mask: torch.Tensor,
    ) -> torch.Tensor:
        frames = x.shape[1]
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(cond).unsqueeze(2).chunk(6, dim=-1)
        h = modulate(self.norm1(x), shift1, scale1)
        h = self.attn(rearrange(h, "b f s d -> b (f s) d"), rotations)
        x = torch.addcmul(x, gate1, rearrange(h, "b (f s) d -> b f s d", f=frames))  # x + gate1 * h, fused
        h = self.cross(rearrange(self.norm_cross(x), "b f s d -> b (f s) d"), text_kv, text_mask)
        x = x + rearrange(h, "b (f s) d -> b f s d", f=frames)
        return torch.addcmul(x, gate2, self.mlp(modulate(self.norm2(x), shift2, scale2)))


class FinalLayer(nn.Module):
    def __init__(self, cfg: DiTConfig, patch_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cfg.width, elementwise_affine=False, eps=1e-6)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(cfg.width, 2 * cfg.width))
        self.linear = nn.Linear(cfg.width, patch_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        shift, scale = self.modulation(cond).unsqueeze(2).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class DiT(nn.Module):
    def __init__(self, cfg: DiTConfig = PRESETS["tiny"]) -> None:
        super().__init__()
        if cfg.width % cfg.heads:
            raise ValueError(f"width {cfg.width} must be divisible by heads {cfg.heads}")
        self.cfg = cfg
        pt, ph, pw = cfg.patch
        patch_dim = cfg.latent_channels * pt * ph * pw
        d = cfg.width
        self.patch_embed = nn.Linear(patch_dim, d)
        if cfg.position_features % 4:
            raise ValueError(f"position_features {cfg.position_features} must be a multiple of 4 (sin and cos per axis)")
        self.position_embed = nn.Linear(cfg.position_features, d) if cfg.position_features else None
        if cfg.word_states and cfg.text_dim % 2:
            raise ValueError(f"text_dim {cfg.text_dim} must be even with word_states (two layers' states side by side)")
        self.time_embed = nn.Sequential(nn.Linear(cfg.frequency_dim, d), nn.SiLU(), nn.Linear(d, d))
        # The pooled sentence vector joins the timestep in adaLN, so global attributes such as
        # color reach every token from the first steps of training.
        self.pooled_embed = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.text_proj = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.GELU(approximate="tanh"), nn.Linear(d, d))
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.depth))
        self.final = FinalLayer(cfg, patch_dim)
        self.rope_dims = split_rope_dims(d // cfg.heads)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.time_embed[0].weight, std=0.02)
        nn.init.normal_(self.time_embed[2].weight, std=0.02)
        for block in self.blocks:  # adaLN-Zero: every block starts as the identity
            nn.init.zeros_(block.modulation[-1].weight)
            nn.init.zeros_(block.modulation[-1].bias)
        nn.init.zeros_(self.final.modulation[-1].weight)
        nn.init.zeros_(self.final.modulation[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)
        if self.position_embed is not None:  # starts as nothing, so it can join a trained model unchanged
            nn.init.zeros_(self.position_embed.weight)

    def check_grid(self, latent_shape: torch.Size | tuple[int, ...]) -> None:
        _, c, f, h, w = latent_shape
        pt, ph, pw = self.cfg.patch
        if c != self.cfg.latent_channels:
            raise ValueError(f"latent has {c} channels, the model expects {self.cfg.latent_channels}")
        if f % pt or h % ph or w % pw:
            raise ValueError(f"latent grid {f}x{h}x{w} is not divisible by the patch {self.cfg.patch}")

    def positions(self, frames: int, rows: int, cols: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """RoPE rotations for a token grid on `device`, cached per grid and device (they never change)."""
        key = (frames, rows, cols, str(device))
        cache = self.__dict__.setdefault("_rope_cache", {})
        if key not in cache:
            grid = torch.stack(
                torch.meshgrid(torch.arange(frames), torch.arange(rows), torch.arange(cols), indexing="ij"), dim=-1
            )
            # Computed on the CPU in float64 (exact angles), then moved once to where the model runs.
            cache[key] = rope_frequencies(grid.reshape(-1, 3).float(), self.rope_dims).to(device)
        return cache[key]

    def place_features(self, rows: int, cols: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """(rows * cols, position_features): sin/cos at octave frequencies of each token's
        fractional row and column (cell centres in (0, 1)), cached per grid and device."""
        key = (rows, cols, str(device))
        cache = self.__dict__.setdefault("_place_cache", {})
        if key not in cache:
            octaves = self.cfg.position_features // 4
            fractions = torch.meshgrid((torch.arange(rows) + 0.5) / rows, (torch.arange(cols) + 0.5) / cols, indexing="ij")
            angles = torch.stack(fractions, dim=-1).reshape(-1, 2, 1) * (math.pi * 2.0 ** torch.arange(octaves))
            cache[key] = torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(1).to(device)
        return cache[key]

    def set_attention(self, fn: AttentionFn) -> None:
        """Use `fn(q, k, v, mask)` for every self- and cross-attention (default: SDPA).

        The seam for sequence-parallel or other attention kernels: the modules, their parameter
        names and `blocks` (an nn.ModuleList of DiTBlock) stay as they are.
        """
        for block in self.blocks:
            block.attn.attention = fn
            block.cross.attention = fn

    def text_kv(self, text: TextContext) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per-block cross-attention keys/values; a sampler computes them once for all steps."""
        context = self.text_proj(text.tokens)
        return [block.cross.context_kv(context) for block in self.blocks]

    def forward(
        self,
        latent: torch.Tensor,
        timesteps: torch.Tensor,
        text: TextContext,
        text_kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        self.check_grid(latent.shape)
        if text.pooled.shape[-1] != self.cfg.text_dim:
            raise ValueError(f"text states are {text.pooled.shape[-1]} wide; this model reads {self.cfg.text_dim} "
                             f"(word_states={self.cfg.word_states}: encode with TextEncoder(word_states={self.cfg.word_states}))")
        b, _, f, h, w = latent.shape
        pt, ph, pw = self.cfg.patch
        gf, gh, gw = f // pt, h // ph, w // pw
        if timesteps.ndim == 1:
            timesteps = timesteps[:, None].expand(b, f)
        if timesteps.shape != (b, f):
            raise ValueError(f"timesteps must be (B,) or (B, F) = ({b}, {f}), got {tuple(timesteps.shape)}")
        # Tokens: (B, C, F, H, W) -> (B, F', H'W', patch_dim), grouped by latent frame.
        x = rearrange(latent, "b c (f pt) (h ph) (w pw) -> b f (h w) (c pt ph pw)", pt=pt, ph=ph, pw=pw)
        x = self.patch_embed(x)
        if self.position_embed is not None:
            x = x + self.position_embed(self.place_features(gh, gw, latent.device).to(x.dtype))
        # One conditioning vector per token frame: its timestep plus the pooled text.
        frame_t = timesteps[:, ::pt]  # (B, F')
        cond = self.time_embed(timestep_embedding(frame_t, self.cfg.frequency_dim))
        cond = cond + self.pooled_embed(text.pooled)[:, None, :]
        rotations = self.positions(gf, gh, gw, latent.device)
        kvs = text_kv if text_kv is not None else self.text_kv(text)
        for block, kv in zip(self.blocks, kvs):
            x = block(x, cond, rotations, kv, text.mask)
        x = self.final(x, cond)  # (B, F', S, patch_dim)
        return rearrange(x, "b f (h w) (c pt ph pw) -> b c (f pt) (h ph) (w pw)", h=gh, pt=pt, ph=ph, pw=pw)


TEXT_INPUTS = ("text_proj.0.weight", "pooled_embed.0.weight")  # the layers that read text states


def complete_state(state: dict[str, torch.Tensor], cfg: DiTConfig) -> dict[str, torch.Tensor]:
    """`state` grown to what `cfg` has: zero-initialised position-embedding entries it lacks, and
    zero columns for the input layer's states where `cfg` reads word states and `state` does not,
    so weights trained without them start a model with them computing exactly what they computed."""
    fresh = DiT(cfg).state_dict()
    grown = dict(state)
    for key in TEXT_INPUTS:
        have, want = state[key].shape[1], fresh[key].shape[1]
        if cfg.word_states and have * 2 == want:
            grown[key] = torch.cat([state[key], torch.zeros_like(state[key])], dim=1)
    return {**{k: v for k, v in fresh.items() if k.startswith("position_embed.") and k not in state}, **grown}


def word_states_config(cfg: DiTConfig) -> DiTConfig:
    """`cfg` reading word states: the input layer's states beside the last layer's, twice as wide."""
    return cfg if cfg.word_states else replace(cfg, word_states=True, text_dim=2 * cfg.text_dim)


def with_word_states(model: DiT) -> DiT:
    """`model` itself if it reads word states, else a copy that does (the new input columns start
    at zero: same outputs for the same last-layer states)."""
    if model.cfg.word_states:
        return model
    grown = DiT(word_states_config(model.cfg)).to(next(model.parameters()).device)
    grown.load_state_dict(complete_state(model.state_dict(), grown.cfg))
    return grown.train(model.training)


def with_place_features(model: DiT, features: int) -> DiT:
    """`model` itself if it already has `features` place features, else a copy that adds them
    (zero-initialised: same outputs). Changing an existing, non-zero count is refused."""
    if features == model.cfg.position_features:
        return model
    if model.cfg.position_features:
        raise ValueError(f"the model already has {model.cfg.position_features} position features; it cannot change to {features}")
    grown = DiT(replace(model.cfg, position_features=features)).to(next(model.parameters()).device)
    grown.load_state_dict(complete_state(model.state_dict(), grown.cfg))
    return grown.train(model.training)
