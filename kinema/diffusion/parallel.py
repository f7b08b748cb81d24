"""Sampling on several processes: one video's model calls split over ranks, or prompts spread.

Contract:
- `SamplingPlan(batch, sequence)` says how the ranks split each DiT call: `batch` ranks split the
  call's batch (classifier-free guidance runs the conditional and unconditional prompt as one
  batch of 2, so with batch = 2 each half runs on its own rank), and `sequence` ranks split the
  token sequence by latent frames (context parallelism as in xDiT and Open-Sora: each rank keeps
  the queries of its frames and all-gathers the keys and values of every frame before
  self-attention; cross-attention, MLPs and modulation stay local). batch * sequence = world.
  `SamplingPlan.choose(world, mode)` picks one (mode auto | cfg | sequence).
- `parallel_dit(dit, plan)` is a context manager: inside it every call of the DiT, however it is
  reached (`guided_velocity`, `sample`, the pipeline), runs spread over the ranks and returns on
  every rank the whole velocity a single process computes (equal up to float rounding), so all
  ranks hold the same latent and any rank can decode it. A call whose batch does not split
  evenly, or with fewer latent frames than sequence ranks, runs whole on each rank (still right).
  It uses the DiT's attention seam (`SelfAttention.attention`, an (q, k, v, mask) function) and
  forward hooks; the model's code and weights are untouched, and everything is undone on exit.
- `shard_items(count, rank, world)`: the item indices a rank takes (i = rank, rank + world, ...),
  and `gather_objects(obj)` collects one picklable object per rank, in rank order, on every rank.
The process group comes from torchrun (`kinema.train.distributed.init_distributed`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

MODES = ("auto", "cfg", "sequence")


@dataclass(frozen=True)
class SamplingPlan:
    batch: int = 1  # ranks splitting each call's batch (2: the CFG pair)
    sequence: int = 1  # ranks splitting each call's token sequence by latent frames

    def __post_init__(self) -> None:
        if self.batch < 1 or self.sequence < 1:
            raise ValueError(f"sampling plan needs batch >= 1 and sequence >= 1, got {self.batch} and {self.sequence}")

    @property
    def world(self) -> int:
        return self.batch * self.sequence

    @staticmethod
    def choose(world: int, mode: str = "auto") -> SamplingPlan:
        """auto: the CFG pair on 2 ranks when the world is even, the sequence over the rest;
        cfg: only the CFG split (world must be 1 or 2); sequence: only the sequence split."""
        if mode not in MODES:
            raise ValueError(f"parallel sampling mode {mode!r} is not supported; use one of: {', '.join(MODES)}")
        if world < 1:
            raise ValueError(f"world size {world} must be at least 1")
        if mode == "cfg":
            if world > 2:
                raise ValueError(f"--parallel cfg splits the guidance pair over 2 processes, not {world}; use auto or sequence")
            return SamplingPlan(batch=world)
        if mode == "sequence":
            return SamplingPlan(sequence=world)
        return SamplingPlan(batch=2, sequence=world // 2) if world % 2 == 0 else SamplingPlan(sequence=world)


def shard_items(count: int, rank: int, world: int) -> list[int]:
    """Indices rank `rank` of `world` takes: rank, rank + world, ... (balanced to within one)."""
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"rank {rank} must be in 0..{world - 1} for world size {world}")
    return list(range(rank, count, world))


def gather_objects(obj: Any) -> list[Any]:
    """One object per rank, in rank order, on every rank ([obj] without a process group)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def _counts(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _gather(t: torch.Tensor, dim: int, counts: list[int], group: Any) -> torch.Tensor:
    """All-gather pieces of different lengths along `dim` (padded to the longest, then trimmed)."""
    longest = max(counts)
    if t.shape[dim] < longest:
        pad = list(t.shape)
        pad[dim] = longest - t.shape[dim]
        t = torch.cat([t, t.new_zeros(pad)], dim=dim)
    parts = [torch.empty_like(t) for _ in counts]
    dist.all_gather(parts, t.contiguous(), group=group)
    return torch.cat([p.narrow(dim, 0, n) for p, n in zip(parts, counts)], dim=dim)


class _Spread:
    """The hooks' shared state for one `parallel_dit` context."""

    def __init__(self, plan: SamplingPlan) -> None:
        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError("parallel sampling needs a process group: launch with torchrun")
        world, rank = dist.get_world_size(), dist.get_rank()
        if plan.world != world:
            raise ValueError(f"sampling plan {plan.batch} x {plan.sequence} needs {plan.world} processes, but {world} are running")
        self.plan = plan
        self.batch_index, self.sequence_index = divmod(rank, plan.sequence)
        # Every rank creates every group in the same order (a collective rule of new_group).
        self.batch_group = self.sequence_group = None
        if 1 < plan.batch < world:
            for s in range(plan.sequence):
                group = dist.new_group([b * plan.sequence + s for b in range(plan.batch)])
                if s == self.sequence_index:
                    self.batch_group = group
        if 1 < plan.sequence < world:
            for b in range(plan.batch):
                group = dist.new_group([b * plan.sequence + s for s in range(plan.sequence)])
                if b == self.batch_index:
                    self.sequence_group = group
        self.split_batch = False  # for the call in progress
        self.frame_counts: list[int] | None = None  # latent-token frames per sequence rank, when split
        self.tokens_per_frame = 0

    # Batch (CFG) split: the root module's input and output.
    def before_model(self, module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        args = list(args)
        latent = args[0]
        b = latent.shape[0]
        self.split_batch = self.plan.batch > 1 and b % self.plan.batch == 0
        if not self.split_batch:
            return tuple(args), kwargs
        n = b // self.plan.batch
        rows = slice(self.batch_index * n, (self.batch_index + 1) * n)
        from kinema.models.dit import TextContext

        args[0] = latent[rows]
        args[1] = args[1][rows]
        text_at = 2 if len(args) > 2 else None
        text = args[2] if text_at is not None else kwargs["text"]
        text = TextContext(text.tokens[rows], text.mask[rows], text.pooled[rows])
        if text_at is not None:
            args[2] = text
        else:
            kwargs["text"] = text
        kv = args[3] if len(args) > 3 else kwargs.get("text_kv")
        if kv is not None:
            kv = [(k[rows], v[rows]) for k, v in kv]
            if len(args) > 3:
                args[3] = kv
            else:
                kwargs["text_kv"] = kv
        return tuple(args), kwargs

    def after_model(self, module: nn.Module, args: tuple, kwargs: dict, output: torch.Tensor) -> torch.Tensor:
        if not self.split_batch:
            return output
        return _gather(output, 0, [output.shape[0]] * self.plan.batch, self.batch_group)

    # Sequence split: frames of the token grid between the first block's input and the last's output.
    def before_block(self, first: bool) -> Any:
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            x, cond, rotations, *rest = args
            if first:
                frames = cond.shape[1]
                split = self.plan.sequence > 1 and frames >= self.plan.sequence
                self.frame_counts = _counts(frames, self.plan.sequence) if split else None
                self.tokens_per_frame = x.shape[2]
            if self.frame_counts is None:
                return tuple(args), kwargs
            start = sum(self.frame_counts[: self.sequence_index])
            stop = start + self.frame_counts[self.sequence_index]
            if first:
                x = x[:, start:stop]
            s = self.tokens_per_frame
            return (x, cond[:, start:stop], rotations[start * s : stop * s], *rest), kwargs

        return hook

    def after_last_block(self, module: nn.Module, args: tuple, kwargs: dict, output: torch.Tensor) -> torch.Tensor:
        if self.frame_counts is None:
            return output
        return _gather(output, 1, self.frame_counts, self.sequence_group)

    def attention_around(self, inner: Any) -> Any:
        """Self-attention of this rank's queries over every rank's keys and values, computed by
        `inner` (the kernel the block had: SDPA, or one installed with `DiT.set_attention`)."""

        def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
            if self.frame_counts is not None:
                tokens = [n * self.tokens_per_frame for n in self.frame_counts]
                k, v = _gather(k, 2, tokens, self.sequence_group), _gather(v, 2, tokens, self.sequence_group)
            return inner(q, k, v, mask)

        return attention


@contextlib.contextmanager
def parallel_dit(dit: nn.Module, plan: SamplingPlan) -> Iterator[nn.Module]:
    """Spread every call of `dit` inside the block over the ranks of `plan` (see the module doc)."""
    if plan.world == 1:
        yield dit
        return
    spread = _Spread(plan)
    blocks = list(dit.blocks)
    handles = [
        dit.register_forward_pre_hook(spread.before_model, with_kwargs=True),
        dit.register_forward_hook(spread.after_model, with_kwargs=True),
    ]
    saved: list[tuple[nn.Module, Any]] = []
    if plan.sequence > 1:
        for i, block in enumerate(blocks):
            handles.append(block.register_forward_pre_hook(spread.before_block(first=i == 0), with_kwargs=True))
            if not hasattr(block.attn, "attention"):
                raise ValueError("this DiT's self-attention has no replaceable `attention` function; "
                                 "use --parallel cfg, or update kinema.models.layers")
            saved.append((block.attn, block.attn.attention))
            block.attn.attention = spread.attention_around(block.attn.attention)
        handles.append(blocks[-1].register_forward_hook(spread.after_last_block, with_kwargs=True))
    try:
        yield dit
    finally:
        for handle in handles:
            handle.remove()
        for attn, fn in saved:
            attn.attention = fn
