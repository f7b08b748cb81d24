"""One video sampled on 2 processes (CFG pair split, or the token sequence split by frames) equals
the single-process result for the same seed. Real torchrun jobs (gloo, 2 CPU processes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.torch import load_file

from kinema.diffusion.parallel import SamplingPlan, shard_items
from tests.distributed.conftest import HERE, launch

SAMPLE_TOL = 1e-5  # latents of magnitude ~4: only float rounding of different matmul shapes differs


def test_cfg_split_and_sequence_parallel_equal_one_process(tmp_path: Path) -> None:
    launch(HERE / "sample_job.py", [str(tmp_path / "one.safetensors")])
    launch(HERE / "sample_job.py", [str(tmp_path / "two.safetensors"), "--modes", "cfg,sequence"], nproc=2)
    one, two = load_file(tmp_path / "one.safetensors"), load_file(tmp_path / "two.safetensors")
    calls = {key: int(two.pop(key)) for key in ("calls/cfg", "calls/sequence")}
    assert sorted(two) == ["cfg/clip", "cfg/image", "sequence/clip", "sequence/image"]
    assert calls["calls/sequence"] > 0  # the installed self-attention kernel ran under the sequence split
    for key, latent in two.items():
        reference = one[key.split("/")[1]]
        diff = float((latent - reference).abs().max())
        print(f"{key}: max |diff| vs 1 process {diff:.2e} (latent max {float(reference.abs().max()):.2f})")
        assert diff < SAMPLE_TOL


def test_plans_and_prompt_shards() -> None:
    assert SamplingPlan.choose(2) == SamplingPlan(batch=2, sequence=1)
    assert SamplingPlan.choose(8) == SamplingPlan(batch=2, sequence=4)
    assert SamplingPlan.choose(3) == SamplingPlan(batch=1, sequence=3)
    assert SamplingPlan.choose(2, "sequence") == SamplingPlan(sequence=2)
    with pytest.raises(ValueError, match="cfg splits the guidance pair over 2"):
        SamplingPlan.choose(4, "cfg")
    with pytest.raises(ValueError, match="mode 'ring'"):
        SamplingPlan.choose(2, "ring")
    shards = [shard_items(7, r, 3) for r in range(3)]
    assert shards == [[0, 3, 6], [1, 4], [2, 5]]
    assert sorted(i for s in shards for i in s) == list(range(7))
