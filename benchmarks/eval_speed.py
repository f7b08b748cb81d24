"""KinemaBench scoring speed: seconds to score one video, per canvas and length.

Scores world renders (a few objects, the scoring path a generated video takes) and prints the
median of several repetitions after a warm-up, single-threaded numpy as in CI. The target is
well under 1 s for the default 64x64, 33-frame clip.

    .venv/bin/python benchmarks/eval_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy loads: measure one core, as CI has

from kinema.eval.analyze import analyze  # noqa: E402
from kinema.eval.score import score_video  # noqa: E402
from kinema.world.render import render  # noqa: E402
from kinema.world.sample import sample_scene  # noqa: E402

CANVASES = ((64, 64), (96, 64), (64, 96), (112, 64))
LENGTHS = (1, 17, 33, 65)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'canvas':>8} {'frames':>6} {'analyze s':>10} {'score s':>8} {'video s':>8}")
    for width, height in CANVASES:
        for frames in LENGTHS:
            scene = sample_scene(7, "full", width=width, height=height, frames=frames)
            clip = render(scene).frames
            score_video(clip, scene)  # warm-up
            analysis_times, score_times = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                analyze(clip, scene.fps)
                analysis_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                score_video(clip, scene)
                score_times.append(time.perf_counter() - start)
            a, s = statistics.median(analysis_times), statistics.median(score_times)
            print(f"{width}x{height:<4} {frames:>6} {a:>10.3f} {s:>8.3f} {frames / scene.fps:>8.2f}")


if __name__ == "__main__":
    main()
