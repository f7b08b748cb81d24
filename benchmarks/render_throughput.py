"""Render throughput of the world renderer on ONE thread: clips per second for random scenes.

Usage: python benchmarks/render_throughput.py [--scenes 300] [--repeats 3]

Scenes are sampled (untimed) from each preset of `kinema.world.sample.DISTRIBUTIONS` at fixed
canvas sizes and clip lengths, then rendered (timed). These machines are shared and noisy (see
shared/BENCH.md), so each case reports the best of `repeats` passes, both in wall-clock time and
in this process's CPU time (which other processes on the machine disturb less). The target is
200+ clips/s for 33 frames at 64x64 with 1-3 objects.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads: one thread, as a data-loader worker has

import argparse  # noqa: E402
import time  # noqa: E402

from kinema.world.render import render  # noqa: E402
from kinema.world.sample import sample_scene  # noqa: E402
from kinema.world.scene import Scene  # noqa: E402

CASES = (  # (preset, width, height, frames)
    ("simple", 64, 64, 33),
    ("medium", 64, 64, 33),
    ("full", 64, 64, 33),
    ("full", 96, 64, 33),
    ("full", 112, 64, 33),
    ("full", 64, 96, 33),
    ("full", 64, 64, 65),
    ("full", 128, 128, 33),
    ("full", 256, 256, 33),
)


def clips_per_second(scenes: list[Scene], repeats: int) -> tuple[float, float]:
    """(wall-clock, CPU-time) clips per second, each the best of `repeats` passes."""
    render(scenes[0])  # warm caches
    wall = cpu = float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for scene in scenes:
            render(scene)
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return len(scenes) / wall, len(scenes) / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=300, help="random scenes per case")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per case; the best is kept")
    args = parser.parse_args()
    print(f"{'preset':<8} {'size':>9} {'frames':>6} {'clips/s wall':>13} {'clips/s cpu':>12} {'ms/clip cpu':>12}")
    for preset, width, height, frames in CASES:
        count = max(10, args.scenes * 64 * 64 // (width * height))  # fewer scenes for big canvases
        scenes = [sample_scene(seed, preset, width=width, height=height, frames=frames) for seed in range(count)]
        wall, cpu = clips_per_second(scenes, args.repeats)
        print(f"{preset:<8} {f'{width}x{height}':>9} {frames:>6} {wall:>13.1f} {cpu:>12.1f} {1000 / cpu:>12.2f}")


if __name__ == "__main__":
    main()
