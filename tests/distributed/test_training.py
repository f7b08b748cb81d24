"""Data-parallel training equals one process on the same global batch; sharded checkpoints resume
after SIGKILL and on another number of processes. Real torchrun jobs (gloo, 2 CPU processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from safetensors.torch import load_file

from kinema.models.dit import DiT
from kinema.train.checkpoint import is_sharded, load_checkpoint_weights
from tests.distributed.conftest import DIT_JOB, ROOT, command, env, launch, losses
from tests.distributed.dit_job import MODEL

LOSS_TOL = 1e-5  # float32 sums in another order (all-reduce, pieces): differences near 1e-7 are seen
WEIGHT_TOL = 1e-5


def descendants(pid: int) -> list[int]:
    """Child processes, recursively, from /proc (torchrun starts each worker in its own session)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def kill_tree(pid: int) -> None:
    for process in [*descendants(pid), pid]:
        try:
            os.kill(process, signal.SIGKILL)
        except ProcessLookupError:
            pass


def max_loss_diff(run_dir: Path, reference: Path) -> float:
    ours, ref = losses(run_dir), losses(reference)
    assert sorted(ours) == sorted(ref) == list(range(1, 11))
    return max(abs(ours[s] - ref[s]) for s in ref)


def max_weight_diff(run_dir: Path, reference: Path, which: str = "model") -> float:
    """Load the (sharded) checkpoint into a plain single-process model and compare with the reference's."""
    assert is_sharded(run_dir / "checkpoint")
    model = DiT(MODEL)
    state = load_checkpoint_weights(run_dir / "checkpoint", model, which)
    assert state["step"] == 10
    ref = load_file(reference / "checkpoint" / f"{which}.safetensors")
    return max(float((model.state_dict()[k] - v).abs().max()) for k, v in ref.items())


def test_ddp_on_two_processes_follows_the_single_process_curve(tmp_path: Path, latent_cache: Path, reference_run: Path) -> None:
    run_dir = tmp_path / "ddp"
    launch(DIT_JOB, ["--cache", str(latent_cache), "--run-dir", str(run_dir), "--strategy", "ddp"], nproc=2)
    loss_diff = max_loss_diff(run_dir, reference_run)
    weight_diff = max(max_weight_diff(run_dir, reference_run, "model"), max_weight_diff(run_dir, reference_run, "ema"))
    print(f"DDP 2 processes vs 1: max |loss diff| {loss_diff:.2e} over 10 steps, max |weight diff| {weight_diff:.2e}")
    assert loss_diff < LOSS_TOL and weight_diff < WEIGHT_TOL


def test_fsdp_with_accumulation_and_checkpointing_stops_and_resumes_on_one_process(tmp_path: Path, latent_cache: Path,
                                                                                   reference_run: Path) -> None:
    """FSDP2 (2 processes x 2 accumulation pieces, activation checkpointing) stops gracefully at
    step 6; its sharded checkpoint resumes in one plain process, which finishes the same curve."""
    run_dir = tmp_path / "fsdp"
    launch(DIT_JOB, ["--cache", str(latent_cache), "--run-dir", str(run_dir), "--strategy", "fsdp", "--accum", "2",
                     "--checkpointing", "--stop-at", "5"], nproc=2)
    assert max(losses(run_dir)) == 6 and is_sharded(run_dir / "checkpoint")
    launch(DIT_JOB, ["--cache", str(latent_cache), "--run-dir", str(run_dir)])  # strategy none: a plain process
    loss_diff = max_loss_diff(run_dir, reference_run)
    ref = load_file(reference_run / "checkpoint" / "model.safetensors")
    ours = load_file(run_dir / "checkpoint" / "model.safetensors")  # the plain process saves the single-process format
    weight_diff = max(float((ours[k] - v).abs().max()) for k, v in ref.items())
    print(f"FSDP 2x2 (steps 1-6) then 1 process from its DCP checkpoint (7-10): max |loss diff| {loss_diff:.2e}, "
          f"max |weight diff| {weight_diff:.2e}")
    assert loss_diff < LOSS_TOL and weight_diff < WEIGHT_TOL


def test_sigkill_mid_training_resumes_from_the_last_checkpoint(tmp_path: Path, latent_cache: Path, reference_run: Path) -> None:
    run_dir = tmp_path / "killed"
    args = ["--cache", str(latent_cache), "--run-dir", str(run_dir), "--strategy", "ddp"]
    job = subprocess.Popen(command(DIT_JOB, [*args, "--slow-from", "6", "--sleep", "1.0"], 2), env=env(), cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 90
    try:
        while time.time() < deadline and job.poll() is None:
            if (run_dir / "log.jsonl").exists() and max(losses(run_dir), default=0) >= 7:
                break
            time.sleep(0.2)
        assert job.poll() is None, "the job ended before it could be killed"
        kill_tree(job.pid)  # both workers and torchrun at once, as a crashed node: no chance to checkpoint
        job.wait(timeout=30)
    finally:
        if job.poll() is None:
            kill_tree(job.pid)
    logged_before = max(losses(run_dir))
    assert logged_before >= 7
    launch(DIT_JOB, args, nproc=2)  # the same command again resumes from step 5's checkpoint
    records = (run_dir / "log.jsonl").read_text().count('"step": 6,')
    assert records == 2, "steps after the last checkpoint are trained again after the kill"
    loss_diff = max_loss_diff(run_dir, reference_run)
    print(f"SIGKILL after step {logged_before}, resumed from step 5 on 2 processes: max |loss diff| vs uninterrupted {loss_diff:.2e}")
    assert loss_diff < LOSS_TOL
