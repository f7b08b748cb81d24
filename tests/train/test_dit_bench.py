"""The periodic KinemaBench subset during DiT training writes a learning-curve record."""

import json
from pathlib import Path

from kinema.train.dit import DiTTrainConfig, bench_subset


def test_bench_subset_appends_scores(tiny_weights: Path, tiny_pipeline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = DiTTrainConfig(vae=str(tiny_weights), eval_prompts=2)
    record = bench_subset(200, tiny_pipeline.dit, cfg, tmp_path)
    lines = (tmp_path / "bench.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["step"] == 200
    assert record["prompts"] == 2 and 0.0 <= record["summary"]["overall"] <= 1.0
