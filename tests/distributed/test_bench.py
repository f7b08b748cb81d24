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
