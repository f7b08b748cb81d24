"""Transformer building blocks as small pure functions and modules: 3D RoPE, attention, timestep
embedding, adaLN modulation. `models/dit.py` assembles them; nothing here knows about video.

Speed notes (CPU inference, measured in docs/performance.md): one fused QKV projection, RoPE
rotations precomputed per token grid by the caller, text keys/values computable once per prompt
(`CrossAttention.context_kv`), modulation as one fused multiply-add (`addcmul`, no temporaries).
The attention kernel is a replaceable function (`AttentionFn`), so a caller can swap in
sequence-parallel or other attention without touching the modules or their parameter names.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

# (q, k, v, mask) -> output; q (B, H, N, D), k and v (B, H, M, D), mask None or (B, 1, 1, M) bool
# (True = attend). The default is PyTorch's fused SDPA; a sequence-parallel wrapper can stand in.
AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The default attention: `F.scaled_dot_product_attention` (flash kernel on CPU and GPU)."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def rope_frequencies(positions: torch.Tensor, dims: tuple[int, int, int], theta: float = 10000.0) -> torch.Tensor:
    """Rotary angles for 3D positions.

    positions: (N, 3) float (frame, row, column); dims: head-dim share per axis (each even, summing
    to the head dim). Returns complex rotations (N, head_dim / 2). Any grid size works: a new
    aspect ratio or duration is only other positions.
    """
    parts = []
    for axis, dim in enumerate(dims):
        freqs = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        parts.append(torch.outer(positions[:, axis].double(), freqs))
    angles = torch.cat(parts, dim=-1)
    return torch.polar(torch.ones_like(angles), angles).to(torch.complex64)


def apply_rope(x: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels of x (B, heads, N, head_dim) by rotations (N, head_dim / 2)."""
    pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(pairs * rotations).flatten(-2).type_as(x)


def split_rope_dims(head_dim: int) -> tuple[int, int, int]:
    """Share the head dim among time, height and width, each even; time gets the remainder."""
    space = (head_dim // 3) // 2 * 2
    return head_dim - 2 * space, space, space


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight.to(x.dtype), self.eps)  # no-op in fp32; bf16 stays fused


class SelfAttention(nn.Module):
    """Fused QKV, QK RMS-norm (stable at any resolution), 3D RoPE, SDPA."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm, self.k_norm = RMSNorm(dim // heads), RMSNorm(dim // heads)
        self.out = nn.Linear(dim, dim)
        self.attention: AttentionFn = sdpa

    def forward(self, x: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        q, k = apply_rope(self.q_norm(q), rotations), apply_rope(self.k_norm(k), rotations)
        y = self.attention(q, k, v, None)
        return self.out(rearrange(y, "b h n d -> b n (h d)"))


class CrossAttention(nn.Module):
    """Video tokens attend to text tokens; padding tokens are masked out."""

    def __init__(self, dim: int, context_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim, 2 * dim)
        self.q_norm, self.k_norm = RMSNorm(dim // heads), RMSNorm(dim // heads)
        self.out = nn.Linear(dim, dim)
        self.attention: AttentionFn = sdpa

    def context_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the text; constant across sampling steps, so callers may cache them."""
        k, v = rearrange(self.kv(context), "b m (two h d) -> two b h m d", two=2, h=self.heads)
        return self.k_norm(k), v

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        q = self.q_norm(rearrange(self.q(x), "b n (h d) -> b h n d", h=self.heads))
        k, v = kv
        y = self.attention(q, k, v, mask[:, None, None, :])
        return self.out(rearrange(y, "b h n d -> b n (h d)"))


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of t in [0, 1] (scaled by 1000 as in DiT), any leading shape."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = (t.float() * 1000.0).unsqueeze(-1) * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: x * (1 + scale) + shift, as one fused multiply-add."""
    return torch.addcmul(shift, x, 1 + scale)


class MLP(nn.Module):
    def __init__(self, dim: int, ratio: float) -> None:
        super().__init__()
        hidden = int(dim * ratio)
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.act = nn.GELU(approximate="tanh")  # a module (no parameters), so kinema.models.packed can fuse it into fc1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))
