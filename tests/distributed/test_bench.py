"""KinemaBench shared by 2 torchrun processes gives the scores one process gives, merged on rank 0."""

from __future__ import annotations

import json
from pathlib import Path

from kinema.eval.bench import render_reference, run_suite
from tests.distributed.bench_job import suite
from tests.distributed.conftest import HERE, launch


def test_bench_on_two_processes_merges_the_same_scores(tmp_path: Path) -> None:
    launch(HERE / "bench_job.py", [str(tmp_path / "two.json")], nproc=2)
    two = json.loads((tmp_path / "two.json").read_text())
    one = run_suite(suite(), render_reference, label="ceiling", keep_frames=1)
    assert two["processes"] == 2 and two["count"] == one["count"] == 5
    assert [p["id"] for p in two["per_prompt"]] == [p["id"] for p in one["per_prompt"]]  # suite order, not rank order
    for a, b in zip(two["per_prompt"], one["per_prompt"]):
        assert a["categories"] == b["categories"] and a["overall"] == b["overall"]
    assert two["summary"] == one["summary"]
    assert two["examples"].keys() == one["examples"].keys()


def test_cli_eval_under_torchrun_shares_the_suite(tiny_weights: Path, tmp_path: Path) -> None:
    """`torchrun ... kinema eval run`: each process generates its share; rank 0 writes the results."""
    import os
    import subprocess
    import sys
    from dataclasses import asdict

    small = suite()
    entries = [{**asdict(e), "frames": 1} for e in small.entries[:3]]  # stills: the test model is random anyway
    (tmp_path / "suite.json").write_text(json.dumps({"name": small.name, "entries": entries}))
    kinema = Path(sys.executable).with_name("kinema")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "--no-python", str(kinema),
               "eval", "run", "--suite", str(tmp_path / "suite.json"), "--model", str(tiny_weights), "-o", str(tmp_path / "r.json")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["processes"] == 2 and [p["id"] for p in results["per_prompt"]] == [e["id"] for e in entries]
