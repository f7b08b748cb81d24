"""A tiny DiT training job for the multi-process tests; run it plainly or under torchrun.

    python tests/distributed/dit_job.py --cache C --run-dir R --steps 10
    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/distributed/dit_job.py --cache C --run-dir R --strategy ddp

--stop-at N: rank 0 sends itself SIGINT while fetching step N's batch (a graceful stop);
--slow-from N: sleep --sleep seconds per step from step N on (so a test can SIGKILL mid-run).
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path

import torch

import kinema.train.dit as trainer
from kinema.models.dit import DiTConfig, TextContext
from kinema.train.distributed import ParallelConfig
from kinema.train.latents import LatentCache
from kinema.train.runner import OptimConfig

MODEL = DiTConfig(latent_channels=4, width=32, depth=2, heads=2)


def config(cache: Path, steps: int = 10, checkpoint_every: int = 5) -> trainer.DiTTrainConfig:
    optim = OptimConfig(steps=steps, lr=3e-3, warmup=2, ema_decay=0.9, checkpoint_every=checkpoint_every, log_every=1)
    return trainer.DiTTrainConfig(model=MODEL, cache=str(cache), token_budget=96, condition_rate=0.5, optim=optim)


def empty_text() -> TextContext:
    g = torch.Generator().manual_seed(7)
    return TextContext(torch.randn(1, 2, 384, generator=g), torch.ones(1, 2, dtype=torch.bool), torch.randn(1, 384, generator=g))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--strategy", default="none")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--checkpoint-every", type=int, default=5)
    parser.add_argument("--accum", type=int, default=1)
    parser.add_argument("--checkpointing", action="store_true")
    parser.add_argument("--stop-at", type=int, default=-1)
    parser.add_argument("--slow-from", type=int, default=-1)
    parser.add_argument("--sleep", type=float, default=1.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rank = int(os.environ.get("RANK", 0))

    class Cache(LatentCache):
        def batch(self, step: int, seed: int = 0, **kwargs) -> trainer.LatentBatch:  # type: ignore[override]
            if step == args.stop_at and rank == 0:
                os.kill(os.getpid(), signal.SIGINT)
            if 0 <= args.slow_from <= step:
                time.sleep(args.sleep)
            return super().batch(step, seed, **kwargs)

    trainer.LatentCache = Cache  # type: ignore[misc]
    parallel = ParallelConfig(strategy=args.strategy, grad_accum=args.accum, activation_checkpointing=args.checkpointing)
    trainer.train_dit(config(args.cache, args.steps, args.checkpoint_every), args.run_dir, empty_text(), progress=False, parallel=parallel)


if __name__ == "__main__":
    main()
