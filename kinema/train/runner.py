"""The training loop shared by the VAE and the DiT: AdamW, warmup, gradient clipping, EMA,
resumable checkpoints, logging and a progress bar.

Contract: `run(job)` trains `job.model` on `job.next_batch(step)` with `job.loss(model, batch)`
until `config.steps`, checkpointing every `config.checkpoint_every` steps (and on SIGTERM/SIGINT)
into `config.run_dir / "checkpoint"`. Starting again with the same run_dir resumes exactly:
weights, EMA, optimizer moments, step and RNG state; a data stream that is a pure function of the
step (as the world stream is) continues where it stopped. Logs go to `run_dir / "log.jsonl"`.
"""

from __future__ import annotations

import json
import math
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinema.train.checkpoint import load_training, save_training
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


def pick_device(name: str = "auto") -> torch.device:
    """'auto' is the GPU when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    return torch.device(name)


def run(job: Job, optim: OptimConfig, run_dir: Path, progress: bool = True, init_state: dict[str, torch.Tensor] | None = None,
        device: torch.device | str = "cpu") -> int:
    """Train until optim.steps; returns the final step. Resumes from run_dir/checkpoint if present.

    On a GPU the loss runs under bf16 autocast; on the CPU in fp32 (CPUs without native bf16 are
    about 5x slower under autocast). The job's loss moves its batch to the model's device.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = run_dir / "checkpoint"
    device = torch.device(device)
    model = job.model.to(device)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 else decay).append(p)  # no decay on norms and biases
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=optim.lr, betas=optim.betas,
    )
    if init_state is not None and not ckpt.exists():
        model.load_state_dict(init_state)  # start from shipped weights alone (fresh optimizer)
    ema = EMA(model, optim.ema_decay)
    step = 0
    if ckpt.exists():
        state, _ = load_training(ckpt, model, ema.model, optimizer)
        step = state["step"]
    log = (run_dir / "log.jsonl").open("a")
    stop = _Stop()

    def checkpoint() -> None:
        save_training(ckpt, model, ema.model, optimizer, {"step": step, "job": job.name, "config": job.config, "optim": asdict(optim)})
        if job.on_checkpoint is not None:
            job.on_checkpoint(step, ema)

    bar = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn(f"[bold]{job.name}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"), TimeRemainingColumn())
        bar.start()
        task = bar.add_task(job.name, total=optim.steps, completed=step, info="")
    model.train()
    window_start, window_items, window_loss, window_steps = time.perf_counter(), 0, 0.0, 0
    try:
        while step < optim.steps and not stop.requested:
            batch = job.next_batch(step)
            for group in optimizer.param_groups:
                group["lr"] = optim.lr_at(step)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                loss, metrics = job.loss(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower the learning rate or check the data")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip)
            optimizer.step()
            ema.update(model, step)
            step += 1
            window_items += job.items_per_batch(batch)
            window_loss += loss.item()
            window_steps += 1
            if step % optim.log_every == 0 or step == optim.steps:
                elapsed = time.perf_counter() - window_start
                record = {"step": step, "loss": window_loss / window_steps, "lr": optim.lr_at(step), "grad_norm": float(grad_norm),
                          "items_per_s": window_items / elapsed, "steps_per_s": window_steps / elapsed, "time": time.time(), **metrics}
                log.write(json.dumps(record) + "\n")
                log.flush()
                if bar is not None:
                    bar.update(task, completed=step, info=f"loss {record['loss']:.4f}  {record['items_per_s']:.1f}/s")
                window_start, window_items, window_loss, window_steps = time.perf_counter(), 0, 0.0, 0
            if step % optim.checkpoint_every == 0:
                checkpoint()
    finally:
        if bar is not None:
            bar.stop()
        log.close()
    if step % optim.checkpoint_every != 0 or stop.requested:
        checkpoint()
    return step
