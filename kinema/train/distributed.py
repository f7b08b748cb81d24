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
- `close_distributed(env)` leaves the group: all ranks meet at a barrier, gloo's worker threads
  finish freeing the last collectives' tensors, then the group is destroyed. Only then may the
  process exit (see `wait_for_gloo_workers` for why).
Sharded checkpoints (torch.distributed.checkpoint) live in `kinema.train.checkpoint`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

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


def close_distributed(env: DistEnv, synchronize: bool = True) -> None:
    """Leave the process group init_distributed created (a group the caller made is left alone).

    `synchronize` (the normal end of a job): all ranks first meet at a barrier, so no rank tears
    down while a peer is still inside a collective. Pass False on an error path, where a peer may
    be stuck elsewhere and a barrier would wait for the collective timeout.
    """
    if not (env.owns_group and dist.is_initialized()):
        return
    if synchronize:
        barrier()
    wait_for_gloo_workers()
    dist.destroy_process_group()


@contextlib.contextmanager
def cpu_process_group() -> Iterator[tuple[int, int]]:
    """(rank, world) under torchrun, in a gloo group joined for the duration (CPU work that shares
    prompts or gathers results: sampling, evaluation); (0, 1) without torchrun. A group that
    already exists is used and left alone."""
    if not launched_by_torchrun():
        yield 0, 1
        return
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group("gloo")
    try:
        yield dist.get_rank(), dist.get_world_size()
    finally:
        if owned:  # gloo's threads must be idle before the process exits (else abort at exit)
            wait_for_gloo_workers()
            dist.destroy_process_group()


_GLOO_WORKER = "pt_gloo_runloop"  # the name torch gives gloo's collective worker threads


def _gloo_workers() -> dict[str, tuple[str, int]] | None:
    """thread id -> (scheduler state, context switches so far) of this process's gloo worker
    threads, from /proc; None where /proc cannot tell (not Linux)."""
    tasks = Path("/proc/self/task")
    try:
        ids = os.listdir(tasks)
    except OSError:
        return None
    workers = {}
    for tid in ids:
        try:
            if (tasks / tid / "comm").read_text().strip() != _GLOO_WORKER:
                continue
            state = (tasks / tid / "stat").read_text().rsplit(")", 1)[1].split()[0]
            status = (tasks / tid / "status").read_text().splitlines()
        except (OSError, IndexError):
            continue  # the thread ended meanwhile
        switches = sum(int(line.split()[1]) for line in status if line.split(":")[0].endswith("ctxt_switches"))
        workers[tid] = (state, switches)
    return workers


def wait_for_gloo_workers(timeout: float = 5.0) -> bool:
    """Sleep, with the GIL released, until every gloo worker thread has sat blocked and untouched
    for a while; True once they have (or there are none), False after `timeout` seconds or where
    /proc cannot tell (after a short fixed pause instead).

    Why: gloo runs each collective on a worker thread, which drops its references to the
    collective's tensors only after the caller has been told the collective is done. If Python
    has already dropped such a tensor, that last release needs the GIL. Should it come once the
    interpreter has begun to finalize, CPython ends the worker thread (pthread_exit) inside a C++
    destructor and the process dies with SIGABRT, "terminate called without an active
    exception". destroy_process_group() does not stop these threads: gloo's shutdown is a no-op
    and FSDP2, DTensor's caches and torch.distributed.nn's default arguments keep the group alive
    until interpreter shutdown. A late release is rare (a worker descheduled on a loaded machine)
    but real, so a job lets the workers settle while the interpreter is fully alive.

    Quiet means: each worker is sleeping ('S') and its context-switch count has not moved for
    several GIL switch intervals while this thread slept. A worker waiting for the GIL retries
    every switch interval (so its count moves) and one that is runnable is 'R'.
    """
    quiet_for = max(0.02, 4 * sys.getswitchinterval())
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        workers = _gloo_workers()
        if workers is None:
            time.sleep(0.1)
            return False
        now = time.monotonic()
        if not workers:
            return True
        if workers == last and all(state == "S" for state, _ in workers.values()):
            if now - since >= quiet_for:
                return True
        else:
            last, since = workers, now
        if now >= deadline:
            return False
        time.sleep(0.002)


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
