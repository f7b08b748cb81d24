"""The training loop resumes exactly: an interrupted run ends where an uninterrupted one does."""

import os
import signal
from pathlib import Path

import torch
from torch import nn

from kinema.train.checkpoint import is_sharded, load_weights, save_weights
from kinema.train.distributed import ParallelConfig
from kinema.train.runner import Job, OptimConfig, run


def make_job(interrupt_at: int | None = None) -> Job:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))

    def next_batch(step: int) -> torch.Tensor:
        if step == interrupt_at:  # as if the user pressed Ctrl-C during this step
            os.kill(os.getpid(), signal.SIGINT)
        return torch.randn(8, 4, generator=torch.Generator().manual_seed(step))

    def loss(m: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        noise = torch.randn(8, 1)  # global RNG: restored from the checkpoint on resume
        return (m(x) - x.sum(1, keepdim=True) - 0.01 * noise).pow(2).mean(), {}

    return Job("toy", model, next_batch, loss, {"toy": True})


def test_interrupted_run_resumes_exactly(tmp_path: Path) -> None:
    optim = OptimConfig(steps=30, lr=1e-2, warmup=5, checkpoint_every=10, log_every=5)
    straight = make_job()
    run(straight, optim, tmp_path / "a", progress=False)

    first = make_job(interrupt_at=13)
    assert run(first, optim, tmp_path / "b", progress=False) == 14  # finishes the step, checkpoints, stops
    resumed = make_job()  # a fresh process would rebuild everything like this
    torch.manual_seed(123)  # and its RNG would differ: the checkpoint must restore it
    final_step = run(resumed, optim, tmp_path / "b", progress=False)

    assert final_step == 30
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    log = (tmp_path / "b" / "log.jsonl").read_text().splitlines()
    assert '"loss"' in log[0] and '"step": 30' in log[-1]



def test_parallel_stop_on_a_checkpoint_step_saves_once(tmp_path: Path) -> None:
    """A graceful stop right on a checkpoint step (the data-parallel loop, here DDP on one
    process) keeps the checkpoint the loop just wrote instead of writing it again."""
    optim = OptimConfig(steps=30, lr=1e-2, warmup=5, checkpoint_every=10, log_every=5)
    saved: list[int] = []
    job = make_job(interrupt_at=9)  # step 9 trains, the step count becomes 10: a checkpoint step
    job.on_checkpoint = lambda step, ema: saved.append(step)
    assert run(job, optim, tmp_path / "run", progress=False, parallel=ParallelConfig(strategy="ddp")) == 10
    assert saved == [10]
    assert is_sharded(tmp_path / "run" / "checkpoint")

    resumed = make_job(interrupt_at=14)  # a stop between checkpoints is still saved where it stopped
    resumed.on_checkpoint = lambda step, ema: saved.append(step)
    assert run(resumed, optim, tmp_path / "run", progress=False, parallel=ParallelConfig(strategy="ddp")) == 15
    assert saved == [10, 15]

def test_shipped_weights_round_trip_in_small_shards(tmp_path: Path) -> None:
    model = nn.Sequential(*(nn.Linear(800, 800) for _ in range(3)))  # 1.3 MB per weight in fp16
    import kinema.train.checkpoint as ckpt

    old = ckpt.SHARD_BYTES
    ckpt.SHARD_BYTES = 3 * 1024 * 1024
    try:
        paths = save_weights(tmp_path, "toy", model, {"width": 1500})
    finally:
        ckpt.SHARD_BYTES = old
    assert len(paths) == 2 and all(p.stat().st_size < 3 * 1024 * 1024 for p in paths)
    loaded = load_weights(tmp_path, "toy")
    assert loaded["2.weight"].dtype == torch.float32
    assert torch.allclose(loaded["2.weight"], model[2].weight.detach(), atol=1e-3)
