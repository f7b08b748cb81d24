"""FLOP counts of one transformer forward, by formula (shared/BENCH.md), so that latency becomes
achieved GFLOP/s. Only the matmuls of the blocks are counted (norms, activations, embeddings and
the final layer are a few percent and are left out, for both models alike).

Per block, for batch B, width d, N video tokens, T text tokens, MLP ratio r (2 FLOPs a multiply-add):
- self-attention and MLP: (8 + 4r) d^2 N for the QKV, output and MLP projections (24 d^2 N at
  r = 4), plus 4 N^2 d for scores and weighted sum;
- cross-attention: 4 d^2 N (query and output projections) + 4 N T d (scores and sum), plus
  4 d_ctx d T for the text keys and values, which Kinema computes once per prompt (`cached=True`)
  and the diffusers peer computes at every step.
"""

from __future__ import annotations


def self_attention_mlp_flops(batch: int, depth: int, width: int, tokens: int, mlp_ratio: float = 4.0) -> float:
    """B * (24 L d^2 N + 4 L N^2 d) at MLP ratio 4."""
    return batch * depth * ((8 + 4 * mlp_ratio) * width**2 * tokens + 4 * tokens**2 * width)


def cross_attention_flops(batch: int, depth: int, width: int, tokens: int, text_tokens: int, context_dim: int,
                          cached: bool) -> float:
    """B * L * (4 d^2 N + 4 N T d), plus B * L * 4 d_ctx d T for keys/values unless cached."""
    per_block = 4 * width**2 * tokens + 4 * tokens * text_tokens * width
    if not cached:
        per_block += 4 * context_dim * width * text_tokens
    return batch * depth * per_block


def dit_step_flops(batch: int, depth: int, width: int, tokens: int, text_tokens: int, mlp_ratio: float = 4.0,
                   context_dim: int | None = None, cached: bool = True) -> float:
    """FLOPs of one sampling step's forward (all blocks). `context_dim` defaults to `width` (Kinema
    projects text to the model width before its cross-attention, as Wan does)."""
    for name, value in (("batch", batch), ("depth", depth), ("width", width), ("tokens", tokens), ("text_tokens", text_tokens)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    return self_attention_mlp_flops(batch, depth, width, tokens, mlp_ratio) + cross_attention_flops(
        batch, depth, width, tokens, text_tokens, context_dim or width, cached
    )
