"""Real multi-process jobs for the distributed tests: torchrun with the gloo backend on the CPU,
2 processes, one thread each, tiny models. Helpers start them as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
DIT_JOB = HERE / "dit_job.py"


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}


def command(script: Path, args: list[str], nproc: int) -> list[str]:
    if nproc == 1:
        return [sys.executable, str(script), *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", str(script), *args]


def launch(script: Path, args: list[str], nproc: int = 1, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(command(script, args, nproc), env=env(), cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command(script, args, nproc))} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done


def losses(run_dir: Path) -> dict[int, float]:
    """step -> loss from log.jsonl; a resumed run logs some steps twice: the last record wins."""
    out = {}
    for line in (Path(run_dir) / "log.jsonl").read_text().splitlines():
        record = json.loads(line)
        out[record["step"]] = record["loss"]
    return out


def make_cache(folder: Path) -> Path:
    """A latent cache of random clips in two buckets (3 latent frames, and images), 4 channels."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for i, (n, frames) in enumerate(((10, 3), (12, 1))):
        length = 6
        mask = torch.arange(length)[None, :] < torch.randint(1, length + 1, (n, 1), generator=g)
        save_file({"latents": torch.randn(n, 4, frames, 4, 4, generator=g).half(), "tokens": torch.randn(n, length, 384, generator=g).half(),
                   "mask": mask, "pooled": torch.randn(n, 384, generator=g).half()}, str(folder / f"shard_{i:06d}.safetensors"))
        sidecar = {"captions": [f"clip {i}-{j}" for j in range(n)], "bucket": [32, 32, 4 * frames - 3]}
        (folder / f"shard_{i:06d}.json").write_text(json.dumps(sidecar))
    return folder


@pytest.fixture(scope="session")
def latent_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cache(tmp_path_factory.mktemp("dist") / "cache")


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory: pytest.TempPathFactory, latent_cache: Path) -> Path:
    """The same job on one plain process (no torchrun): the curve every parallel run must follow."""
    run_dir = tmp_path_factory.mktemp("dist") / "reference"
    launch(DIT_JOB, ["--cache", str(latent_cache), "--run-dir", str(run_dir)])
    return run_dir
