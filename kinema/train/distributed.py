"""Spreading one training job over processes started by torchrun: DDP or FSDP2, chosen by config.

Contract:
- `ParallelConfig` says how a job is spread: `strategy` none | ddp | fsdp, `precision` (bf16
  mixed precision), activation checkpointing and torch.compile of the repeated blocks, and
  gradient accumulation. The default (strategy none, nothing else) is the plain single-process
  loop of `kinema.train.runner`, unchanged.
- `init_distributed(device, strategy)` reads torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
  MASTER_ADDR/PORT) and joins the process group: NCCL for GPU tensors and gloo for CPU ones. Without
  torchrun a ddp/fsdp job runs as a world of one (useful for gradient accumulation alone).
- The global batch is the same for any number of processes: every step, each rank takes its
  `grad_accum` pieces of the `world_size * grad_accum` pieces `split_rows` cuts from the same
  global batch, and each piece's loss is its share of the whole batch's loss. So 1, 2 or 8
  processes follow the same loss curve (up to float summation order).
- `wrap_model(model, cfg, env, device, blocks)`: activation checkpointing and compile on the
  repeated blocks, then DDP, or FSDP2 (`fully_shard`: each block its own unit, then the root).
- `full_state(module)` gathers a (possibly sharded) module's weights as plain CPU tensors (on every
  rank; a collective under FSDP), for exporting shipped weights.
Sharded checkpoints (torch.distributed.checkpoint) live in `kinema.train.checkpoint`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
import torch.distributed as dist
from torch import nn

STRATEGIES = ("none", "ddp", "fsdp")
PRECISIONS = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class ParallelConfig:
    strategy: str = "none"  # none: one process; ddp: replicate weights; fsdp: shard weights, grads, moments
    precision: str = "auto"  # auto: bf16 autocast on GPUs, fp32 on CPUs (no native bf16 there: ~5x slower)
    activation_checkpointing: bool = False  # recompute each block's activations in backward: memory for ~30% time
    grad_accum: int = 1  # pieces per rank per step: a larger global batch than memory holds at once
    compile: bool = False  # torch.compile each block (GPU: faster steps after a compile warm-up)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"parallel strategy {self.strategy!r} is not supported; use one of: {', '.join(STRATEGIES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r} is not supported; use one of: {', '.join(PRECISIONS)}")
        if not 1 <= self.grad_accum <= 1024:
            raise ValueError(f"grad_accum {self.grad_accum} is out of range; use 1 to 1024")

    @property
    def plain(self) -> bool:
        """True for the original single-process loop (precision alone does not change the loop)."""
        return self.strategy == "none" and self.grad_accum == 1 and not self.activation_checkpointing and not self.compile

    def bf16(self, device: torch.device) -> bool:
        return self.precision == "bf16" or (self.precision == "auto" and device.type == "cuda")


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this process group was created by init_distributed (destroy it when done)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def _backend(device: torch.device) -> str:
    # NCCL moves GPU tensors; gloo keeps the small CPU collectives (stop flags, gathered objects) working.
    return "cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"


def init_distributed(device: torch.device, strategy: str = "ddp") -> tuple[DistEnv, torch.device]:
    """Join (or create) the process group; returns the environment and this rank's device.

    Under torchrun each rank takes the GPU of its LOCAL_RANK. Without torchrun, strategy none
    stays group-less (world of one) and ddp/fsdp get a one-process group, so the same code runs.
    """
    device = torch.device(device)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if dist.is_available() and dist.is_initialized():
        if device.type == "cuda" and launched_by_torchrun():
            device = torch.device("cuda", local_rank)
        return DistEnv(dist.get_rank(), dist.get_world_size(), local_rank), device
    if launched_by_torchrun():
        world = int(os.environ["WORLD_SIZE"])
        if strategy == "none" and world > 1:
            raise ValueError(f"this job runs under torchrun with {world} processes but the parallel strategy is 'none'; "
                             "use --parallel ddp or --parallel fsdp")
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        dist.init_process_group(_backend(device))  # env:// rendezvous set up by torchrun
        return DistEnv(dist.get_rank(), dist.get_world_size(), local_rank, owns_group=True), device
    if strategy == "none":
        return DistEnv(), device
    dist.init_process_group(_backend(device), store=dist.HashStore(), rank=0, world_size=1)
    return DistEnv(owns_group=True), device


def close_distributed(env: DistEnv) -> None:
    if env.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def split_rows(count: int, index: int, parts: int) -> slice:
    """Rows of piece `index` when `count` rows are cut into `parts` contiguous near-equal pieces."""
    if parts < 1 or not 0 <= index < parts:
        raise ValueError(f"piece index {index} is not in 0..{parts - 1}")
    if count < parts:
        raise ValueError(f"a global batch of {count} items cannot be split into {parts} pieces (processes x grad_accum); "
                         "raise the batch size (e.g. --token-budget) or lower --grad-accum / the number of processes")
    base, extra = divmod(count, parts)
    start = index * base + min(index, extra)
    return slice(start, start + base + (1 if index < extra else 0))


def _units(model: nn.Module, blocks: Sequence[nn.Module]) -> list[nn.Module]:
    """The modules standing where `blocks` stood: the checkpoint wrappers around them, if any."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper

    ids = {id(b) for b in blocks}
    wrappers = [m for m in model.modules() if isinstance(m, CheckpointWrapper) and id(m._checkpoint_wrapped_module) in ids]
    return wrappers or list(blocks)


def wrap_model(model: nn.Module, cfg: ParallelConfig, env: DistEnv, device: torch.device,
               blocks: Sequence[nn.Module] = (), outside_calls: Sequence[nn.Module] = ()) -> nn.Module:
    """Apply activation checkpointing, compile, then DDP or FSDP2; returns the module to train.

    Under FSDP the model is sharded in place (the returned module is `model`); under DDP the
    returned module wraps it. `blocks` are the repeated layers (transformer blocks): each becomes
    an FSDP unit, a checkpointed region and a compiled graph. `outside_calls` are modules inside
    the blocks that the model calls from outside the blocks' forward: FSDP gathers a unit's
    weights when the unit itself is called, so each of them becomes a unit of its own.
    """
    if (cfg.activation_checkpointing or cfg.compile) and not blocks:
        raise ValueError("activation checkpointing and compile need the job's repeated blocks (Job.blocks)")
    if cfg.activation_checkpointing:
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import (
            CheckpointImpl,
            apply_activation_checkpointing,
            checkpoint_wrapper,
        )

        ids = {id(b) for b in blocks}
        apply_activation_checkpointing(model, checkpoint_wrapper_fn=partial(checkpoint_wrapper, checkpoint_impl=CheckpointImpl.NO_REENTRANT),
                                       check_fn=lambda m: id(m) in ids)
    units = _units(model, blocks) if blocks else []
    if cfg.compile:
        for unit in units:
            unit.compile()  # in place: parameter names (and so checkpoints) stay the same
    if cfg.strategy == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.strategy == "fsdp":
        shard_module(model, env, device, [*outside_calls, *units], bf16=cfg.bf16(device))
    return model


def shard_module(model: nn.Module, env: DistEnv, device: torch.device, units: Sequence[nn.Module] = (), bf16: bool = False) -> nn.Module:
    """FSDP2: each unit its own all-gather group (inner units first), then the root. bf16 gathers parameters in bf16
    and reduces gradients in fp32 (the sharded master weights stay fp32)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    import warnings

    # The DiT splits its text K/V projection's output into views and never writes them in place,
    # which is the case this warning is about.
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view tensor")
    mesh = init_device_mesh(device.type, (env.world_size,))
    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
    for unit in units:
        fully_shard(unit, mesh=mesh, mp_policy=policy)
    fully_shard(model, mesh=mesh, mp_policy=policy)
    return model


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def full_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """Plain CPU weights of a possibly sharded/wrapped module, with canonical names (a collective
    under FSDP: call it on every rank)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    if dist.is_initialized():
        state = get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    else:
        state = get_model_state_dict(module)
    return {k: v.detach().cpu() for k, v in state.items()}


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum small per-rank numbers (loss shares, stop flags) over all ranks."""
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor)
    return tensor.tolist()


def barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()
