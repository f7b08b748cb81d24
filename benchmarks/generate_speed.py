"""Seconds to generate the default 4-second 64x64 clip on this machine, and peak memory.

    python benchmarks/generate_speed.py [--weights weights/kinema-tiny] [--threads 2] [--repeats 3]

Prints the median wall time per stage (text encoding, sampling, VAE decode) over repeats after a
warm-up, the real-time factor (seconds of compute per second of video) and peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from kinema.diffusion.flow import resolution_shift
from kinema.diffusion.sample import guided_velocity, sample, timestep_schedule
from kinema.pipeline import Pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pipe = Pipeline.from_pretrained(args.weights)
    prompt = "a small red ball bounces to the right"
    timings: dict[str, list[float]] = {"text": [], "sample": [], "decode": [], "total": []}
    for repeat in range(args.repeats + 1):
        pipe.encoder.cache.clear()
        with torch.no_grad():
            t0 = time.perf_counter()
            cond, empty = pipe.text([prompt]), pipe.text([""])
            t1 = time.perf_counter()
            noise = torch.randn(1, pipe.vae.cfg.latent_channels, 9, 8, 8, generator=torch.Generator().manual_seed(repeat))
            velocity = guided_velocity(pipe.dit, cond, empty, 5.0)
            latent = sample(velocity, noise, timestep_schedule(args.steps, resolution_shift(144)))
            t2 = time.perf_counter()
            pipe.vae.decode(latent)
            t3 = time.perf_counter()
        if repeat == 0:
            continue  # warm-up
        for key, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
            timings[key].append(value)
    median = {k: statistics.median(v) for k, v in timings.items()}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"threads {args.threads}, {args.steps} steps, guidance 5 (batched CFG), 64x64, 33 frames (4.1 s of video)")
    for key, value in median.items():
        print(f"  {key:7s} {value:7.2f} s")
    print(f"  real-time factor {median['total'] / (33 / 8):.2f} (compute seconds per second of video)")
    print(f"  peak resident memory {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
