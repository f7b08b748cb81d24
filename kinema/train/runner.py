"""The training loop shared by the VAE and the DiT: AdamW, warmup, gradient clipping, EMA,
resumable checkpoints, logging and a progress bar.

Contract: `run(job)` trains `job.model` on `job.next_batch(step)` with `job.loss(model, batch)`
until `config.steps`, checkpointing every `config.checkpoint_every` steps (and on SIGTERM/SIGINT)
into `config.run_dir / "checkpoint"`. Starting again with the same run_dir resumes exactly:
weights, EMA, optimizer moments, step and RNG state; a data stream that is a pure function of the
step (as the world stream is) continues where it stopped. Logs go to `run_dir / "log.jsonl"`.
Under torchrun, or with a `ParallelConfig` other than the default, the same job trains
data-parallel (DDP or FSDP2, `kinema.train.distributed`) with sharded checkpoints; the global
batch, and so the loss curve, does not depend on the number of processes.
"""

from __future__ import annotations

import copy
import json
import math
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinema.train.boost import Region, RegionBoost
from kinema.train.checkpoint import is_sharded, load_sharded, load_training, optimizer_state_by_name, save_sharded, save_training
from kinema.train.distributed import (
    DistEnv,
    ParallelConfig,
    all_reduce_sum,
    barrier,
    close_distributed,
    full_state,
    init_distributed,
    launched_by_torchrun,
    shard_module,
    wrap_model,
)
from kinema.train.ema import EMA


@dataclass(frozen=True)
class OptimConfig:
    steps: int = 10_000
    lr: float = 3e-4
    warmup: int = 200  # linear warmup steps: adaptive moments are noisy at first
    min_lr_ratio: float = 0.1  # cosine decay to this fraction of lr
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    checkpoint_every: int = 200
    log_every: int = 10
    grown_lr_scale: float = 1.0  # learning-rate multiplier for the job's grown parts (kinema.train.boost)

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.steps - self.warmup))
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class Job:
    """What a training run needs beyond the loop: a model, batches and a loss."""

    name: str
    model: nn.Module
    next_batch: Callable[[int], Any]  # step -> batch (a pure function of step for exact resume)
    loss: Callable[[nn.Module, Any], tuple[torch.Tensor, dict[str, float]]]  # -> (loss, metrics)
    config: dict[str, Any]  # saved into the checkpoint's state.json
    on_checkpoint: Callable[[int, EMA], None] | None = None  # e.g. export shipped weights, run eval
    items_per_batch: Callable[[Any], int] = lambda batch: 1
    # Data parallelism and gradient accumulation: (batch, index, parts) -> piece `index` of `parts`
    # of the global batch, whose `loss` is that piece's share of the whole batch's loss (the shares
    # sum to it). None: the job runs on one process only.
    shard: Callable[[Any, int, int], Any] | None = None
    # The repeated layers (transformer blocks): FSDP units, checkpointed regions, compiled graphs.
    blocks: Callable[[nn.Module], Sequence[nn.Module]] | None = None
    # Modules inside the blocks that the model calls from outside its blocks' forward (e.g. the
    # DiT's text key/value projections, computed once per call): each becomes its own FSDP unit.
    outside_calls: Callable[[nn.Module], Sequence[nn.Module]] | None = None
    # Parts grown onto a trained model (kinema.train.boost), trained at OptimConfig.grown_lr_scale
    # times the learning rate. None: the job has none.
    grown: Callable[[nn.Module], list[Region]] | None = None


class _Stop:
    """Turns SIGTERM/SIGINT into a checkpoint at the end of the current step."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                signal.signal(sig, self._handler)
            except ValueError:  # not the main thread (e.g. in tests): rely on periodic checkpoints
                pass

    def _handler(self, *_: Any) -> None:
        self.requested = True


class _Reporter:
    """log.jsonl records averaged over `log_every` steps, and the progress bar (rank 0 only)."""

    def __init__(self, job: Job, optim: OptimConfig, run_dir: Path, step: int, progress: bool, enabled: bool = True) -> None:
        self.job, self.optim, self.enabled = job, optim, enabled
        self.log = (run_dir / "log.jsonl").open("a") if enabled else None
        self.bar = None
        if progress and enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn(f"[bold]{job.name}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeRemainingColumn())
            self.bar.start()
            self.task = self.bar.add_task(job.name, total=optim.steps, completed=step, info="")
        self.start, self.items, self.loss, self.steps = time.perf_counter(), 0, 0.0, 0

    def add(self, step: int, items: int, loss: float, grad_norm: float, metrics: dict[str, float]) -> None:
        self.items += items
        self.loss += loss
        self.steps += 1
        if step % self.optim.log_every == 0 or step == self.optim.steps:
            elapsed = time.perf_counter() - self.start
            record = {"step": step, "loss": self.loss / self.steps, "lr": self.optim.lr_at(step), "grad_norm": grad_norm,
                      "items_per_s": self.items / elapsed, "steps_per_s": self.steps / elapsed, "time": time.time(), **metrics}
            if self.log is not None:
                self.log.write(json.dumps(record) + "\n")
                self.log.flush()
            if self.bar is not None:
                self.bar.update(self.task, completed=step, info=f"loss {record['loss']:.4f}  {record['items_per_s']:.1f}/s")
            self.start, self.items, self.loss, self.steps = time.perf_counter(), 0, 0.0, 0

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
        if self.log is not None:
            self.log.close()


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups: weight decay on matrices, none on norms and biases."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        (no_decay if p.ndim < 2 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _boost(job: Job, model: nn.Module, optim: OptimConfig) -> RegionBoost:
    """The job's grown parts (none if it names none) stretched by optim.grown_lr_scale."""
    return RegionBoost(job.grown(model) if job.grown is not None else [], optim.grown_lr_scale)


def run(job: Job, optim: OptimConfig, run_dir: Path, progress: bool = True, init_state: dict[str, torch.Tensor] | None = None,
        device: torch.device | str = "cpu", parallel: ParallelConfig = ParallelConfig()) -> int:
    """Train until optim.steps; returns the final step. Resumes from run_dir/checkpoint if present.

    On a GPU the loss runs under bf16 autocast; on the CPU in fp32 (CPUs without native bf16 are
    about 5x slower under autocast). The job's loss moves its batch to the model's device.
    `parallel` other than the default (or a torchrun launch) runs the data-parallel loop of
    `_run_parallel`; a checkpoint of either loop resumes in either.
    """
    if not parallel.plain or launched_by_torchrun():
        return _run_parallel(job, optim, Path(run_dir), progress, init_state, device, parallel)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / "checkpoint"
    device = torch.device(device)
    model = job.model.to(device)
    optimizer = torch.optim.AdamW(param_groups(model, optim.weight_decay), lr=optim.lr, betas=optim.betas)
    if init_state is not None and not ckpt.exists():
        model.load_state_dict(init_state)  # start from shipped weights alone (fresh optimizer)
    ema = EMA(model, optim.ema_decay)
    step = 0
    if ckpt.exists():
        if is_sharded(ckpt):  # written by a DDP/FSDP run: DCP reshards it into this one process
            step = load_sharded(ckpt, model, ema.model, optimizer)["step"]
        else:
            state, _ = load_training(ckpt, model, ema.model, optimizer)
            step = state["step"]
    stop = _Stop()

    def checkpoint() -> None:
        save_training(ckpt, model, ema.model, optimizer, {"step": step, "job": job.name, "config": job.config, "optim": asdict(optim)})
        if job.on_checkpoint is not None:
            job.on_checkpoint(step, ema)

    report = _Reporter(job, optim, run_dir, step, progress)
    boost = _boost(job, model, optim)
    bf16 = parallel.bf16(device)
    model.train()
    try:
        while step < optim.steps and not stop.requested:
            batch = job.next_batch(step)
            for group in optimizer.param_groups:
                group["lr"] = optim.lr_at(step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss, metrics = job.loss(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower the learning rate or check the data")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip)
            with boost.around_step():
                optimizer.step()
            ema.update(model, step)
            step += 1
            report.add(step, job.items_per_batch(batch), loss.item(), float(grad_norm), metrics)
            if step % optim.checkpoint_every == 0:
                checkpoint()
    finally:
        report.close()
    if step % optim.checkpoint_every != 0 or stop.requested:
        checkpoint()
    return step


def _run_parallel(job: Job, optim: OptimConfig, run_dir: Path, progress: bool, init_state: dict[str, torch.Tensor] | None,
                  device: torch.device | str, parallel: ParallelConfig) -> int:
    """The data-parallel loop: every rank sees the same global batch, takes its pieces, and the
    gradients (averaged by DDP/FSDP over ranks) equal those of the whole batch on one process.

    Randomness the loss draws from the global RNG is reseeded per (step, piece), so a resumed or
    resharded run draws the same numbers; the DiT and VAE draw theirs from per-step generators.
    """
    env, device = init_distributed(torch.device(device), parallel.strategy)
    if (env.world_size > 1 or parallel.grad_accum > 1) and job.shard is None:
        raise ValueError(f"job {job.name!r} cannot split its batches (Job.shard), so it cannot run on {env.world_size} processes "
                         f"with grad_accum {parallel.grad_accum}")
    finished = False  # every rank got through the loop and the last checkpoint: leave together
    try:
        ckpt = run_dir / "checkpoint"
        if env.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        barrier()
        model = job.model.to(device)
        if init_state is not None and not ckpt.exists():
            model.load_state_dict(init_state)
        ema = EMA(model, optim.ema_decay)
        names = {id(p): n for n, p in model.named_parameters()}  # canonical names, before any wrapper
        step, resume_optimizer = 0, None
        if ckpt.exists() and not is_sharded(ckpt):
            # A single-process checkpoint: load it plainly, then hand the moments over by name.
            plain = torch.optim.AdamW(param_groups(model, optim.weight_decay), lr=optim.lr, betas=optim.betas)
            state, _ = load_training(ckpt, model, ema.model, plain)
            step = state["step"]
            resume_optimizer = optimizer_state_by_name(plain, names, ckpt)
            del plain
        blocks = list(job.blocks(model)) if job.blocks is not None else []
        template = copy.deepcopy(model).to("meta") if parallel.strategy == "fsdp" and job.on_checkpoint is not None and env.is_main else None
        extra = list(job.outside_calls(model)) if job.outside_calls is not None else []
        wrapped = wrap_model(model, parallel, env, device, blocks, extra)
        if parallel.strategy == "fsdp":  # the EMA is sharded like the weights it follows
            ema_units = [*(job.outside_calls(ema.model) if job.outside_calls else []), *(job.blocks(ema.model) if job.blocks else [])]
            shard_module(ema.model, env, device, ema_units)
        optimizer = torch.optim.AdamW(param_groups(model, optim.weight_decay), lr=optim.lr, betas=optim.betas)
        if resume_optimizer is not None:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            set_optimizer_state_dict(wrapped, optimizer, resume_optimizer, options=StateDictOptions(full_state_dict=True))
        elif ckpt.exists():
            step = load_sharded(ckpt, wrapped, ema.model, optimizer)["step"]
        stop = _Stop()
        saved_at = step if ckpt.exists() else None  # the step the checkpoint on disk holds

        def checkpoint() -> None:
            nonlocal saved_at
            saved_at = step
            save_sharded(ckpt, wrapped, ema.model, optimizer, {"step": step, "job": job.name, "config": job.config, "optim": asdict(optim),
                                                                "parallel": asdict(parallel)})
            if job.on_checkpoint is not None:
                _plain_checkpoint_hook(job, step, ema, template, env)

        report = _Reporter(job, optim, run_dir, step, progress, enabled=env.is_main)
        boost = _boost(job, model, optim)
        pieces = env.world_size * parallel.grad_accum
        bf16 = parallel.bf16(device)
        wrapped.train()
        try:
            while step < optim.steps:
                batch = job.next_batch(step)
                for group in optimizer.param_groups:
                    group["lr"] = optim.lr_at(step)
                optimizer.zero_grad(set_to_none=True)
                share_sum, metrics = 0.0, {}
                for a in range(parallel.grad_accum):
                    index = env.rank * parallel.grad_accum + a
                    last = a == parallel.grad_accum - 1
                    torch.manual_seed(1_000_003 * step + index)
                    with _grad_sync(wrapped, last):
                        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                            piece = batch if job.shard is None else job.shard(batch, index, pieces)  # (one piece: the batch)
                            share, metrics = job.loss(wrapped, piece)
                        (share * env.world_size).backward()  # DDP/FSDP average over ranks; shares sum
                    share_sum += float(share.detach())
                total, stops = all_reduce_sum([share_sum, float(stop.requested)], device)
                if not math.isfinite(total):
                    raise FloatingPointError(f"loss became {total} at step {step}; lower the learning rate or check the data")
                grad_norm = torch.nn.utils.clip_grad_norm_(wrapped.parameters(), optim.grad_clip)
                with boost.around_step():
                    optimizer.step()
                ema.update(model, step)
                step += 1
                report.add(step, job.items_per_batch(batch), total, _scalar(grad_norm), metrics)
                if step % optim.checkpoint_every == 0:
                    checkpoint()
                if stops:
                    stop.requested = True
                    break
        finally:
            report.close()
        # A stop or the last step between checkpoints saves here; a stop on a checkpoint step
        # has just been saved in the loop, and saving it again would only repeat the collectives.
        if (step % optim.checkpoint_every != 0 or stop.requested) and step != saved_at:
            checkpoint()
        finished = True
        return step
    finally:
        close_distributed(env, synchronize=finished)


def _grad_sync(model: nn.Module, sync: bool) -> Any:
    """No gradient all-reduce on accumulation pieces before the last (DDP no_sync / FSDP2 flag)."""
    import contextlib

    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext() if sync else model.no_sync()
    if hasattr(model, "set_requires_gradient_sync"):
        model.set_requires_gradient_sync(sync)
    return contextlib.nullcontext()


def _scalar(value: torch.Tensor) -> float:
    return float(value.full_tensor() if hasattr(value, "full_tensor") else value)


def _plain_checkpoint_hook(job: Job, step: int, ema: EMA, template: nn.Module | None, env: DistEnv) -> None:
    """Call job.on_checkpoint on rank 0 with plain EMA weights (gathered from the shards under FSDP)."""
    assert job.on_checkpoint is not None
    if any(hasattr(p, "full_tensor") for p in ema.model.parameters()):
        weights = full_state(ema.model)  # a collective: every rank joins, rank 0 receives
        if env.is_main and template is not None:
            plain = copy.deepcopy(template).to_empty(device="cpu")
            plain.load_state_dict(weights)
            holder = EMA.__new__(EMA)  # the same interface, around the gathered plain copy
            holder.decay, holder.warmup_steps, holder.model = ema.decay, ema.warmup_steps, plain.eval().requires_grad_(False)
            job.on_checkpoint(step, holder)
    elif env.is_main:
        job.on_checkpoint(step, ema)
    barrier()
