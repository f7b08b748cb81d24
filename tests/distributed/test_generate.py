"""`kinema generate --prompts-file` under torchrun: 2 processes share the prompts, and each video
equals the one a single process makes with the same seed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from kinema.pipeline import Pipeline
from kinema.safety import SafetySettings
from kinema.video import read_video
from tests.distributed.conftest import ROOT, env

PROMPTS = ["a small red ball bounces to the right", "# a comment line is skipped", "", "a large blue square slides to the left",
           "a green triangle falls"]


def test_prompts_file_on_two_processes_equals_one_process(tmp_path: Path, tiny_weights: Path, tiny_pipeline: Pipeline) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    out = tmp_path / "videos"
    kinema = Path(sys.executable).parent / "kinema"
    args = ["generate", "--prompts-file", str(prompts), "-o", str(out), "--weights", str(tiny_weights), "--frames", "1", "--steps", "2",
            "--seed", "10", "--no-enhance", "--no-prompt-check", "--no-frame-check", "--no-watermark"]
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "--no-python", str(kinema), *args],
                          env=env(), cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    index = json.loads((out / "index.json").read_text())
    assert index["processes"] == 2
    videos = index["videos"]
    assert [v["index"] for v in videos] == [0, 1, 2] and all(v["status"] == "ok" for v in videos)
    assert [v["file"] for v in videos] == ["0000-a-small-red-ball-bounces-to-the-right.png", "0001-a-large-blue-square-slides-to-the-left.png",
                                          "0002-a-green-triangle-falls.png"]
    off = SafetySettings.off("frames", "watermark")
    for record in videos:
        assert record["seed"] == 10 + record["index"]
        alone = tiny_pipeline.generate(record["prompt"], frames=1, steps=2, seed=record["seed"], safety=off)
        written = read_video(out / record["file"])
        assert np.array_equal(written.frames, alone.frames), record["file"]
    assert "[1/2] wrote" in done.stderr and "[0/2] wrote" in done.stderr
