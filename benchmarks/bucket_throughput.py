"""DiT training throughput: bucketed over every shared/WORLD.md grid vs fixed-size 64x64 clips.

Usage: python benchmarks/bucket_throughput.py [--rounds 4] [--steps 4] [--budget 2304] [--threads 2]

Both modes run the real training step of `kinema train dit` (kinema.train.dit.dit_loss: caption
dropout, logit-normal timesteps with the resolution shift, random keep masks; backward; gradient
clipping; AdamW) on the tiny DiT preset, with the same token budget per batch:
- buckets: kinema.train.buckets.BucketStream over BucketTable.world() (15 x 15 sizes of 32..256 px
  x 17 durations of 1..65 frames = 3825 grids, drawn uniformly), batch = budget // tokens per clip
  (at least 1: the 4.6% of grids bigger than the budget train alone);
- fixed: 4-second 64x64 clips (144 tokens), batch = budget // 144.
Latents and text states are random tensors of each bucket's shape (throughput does not depend on
their values; the VAE and text encoder run once, ahead, in `kinema data cache`).

Measured as shared/BENCH.md asks: both modes in one process, interleaved (A, B, A, B, ...) after a
warm-up, threads pinned; the report gives medians over rounds of clips/s, tokens/s, achieved
GFLOP/s (training = 3 x forward FLOPs; forward per shared/BENCH.md's formula with text length T),
the budget used per step and the ratio bucketed / fixed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass

import torch

from kinema.models.dit import PRESETS, DiT, TextContext
from kinema.train.buckets import Bucket, BucketStream, BucketTable, batch_size
from kinema.train.dit import DiTTrainConfig, dit_loss
from kinema.train.latents import LatentBatch

TEXT_LEN = 64  # typical detailed world caption length in word pieces


@dataclass
class Window:
    clips: int = 0
    tokens: int = 0
    flops: float = 0.0
    seconds: float = 0.0
    steps: int = 0


def forward_flops(cfg, batch: int, tokens: int, text_len: int = TEXT_LEN) -> float:  # type: ignore[no-untyped-def]
    d, depth = cfg.width, cfg.depth
    self_attn = 24 * depth * d * d * tokens + 4 * depth * tokens * tokens * d
    cross = depth * (4 * d * d * tokens + 4 * cfg.text_dim * d * text_len + 4 * tokens * text_len * d)
    return batch * (self_attn + cross)


def make_batch(bucket: Bucket, size: int, generator: torch.Generator) -> LatentBatch:
    frames, h, w = bucket.latent
    latents = torch.randn(size, 16, frames, h, w, generator=generator)
    tokens = torch.randn(size, TEXT_LEN, 384, generator=generator)
    mask = torch.ones(size, TEXT_LEN, dtype=torch.bool)
    return LatentBatch(latents, tokens, mask, torch.nn.functional.normalize(torch.randn(size, 384, generator=generator), dim=-1),
                       [""] * size)


def train_step(model: DiT, optimizer: torch.optim.Optimizer, batch: LatentBatch, cfg: DiTTrainConfig, empty: TextContext, step: int) -> None:
    loss, _ = dit_loss(model, batch, cfg, empty, torch.Generator().manual_seed(step))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (A then B each round)")
    parser.add_argument("--steps", type=int, default=4, help="training steps per mode per round")
    parser.add_argument("--budget", type=int, default=2304, help="tokens per batch (kinema train dit's default)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--json", type=str, default="", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = DiTTrainConfig()
    torch.manual_seed(0)
    model = DiT(PRESETS["tiny"]).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    empty = TextContext(torch.randn(1, 2, 384, generator=g), torch.ones(1, 2, dtype=torch.bool), torch.randn(1, 384, generator=g))
    stream = BucketStream(BucketTable.world(), token_budget=args.budget, seed=0)
    fixed_bucket = Bucket(33, 64, 64)
    fixed_size = batch_size(fixed_bucket, args.budget)
    counters = {"buckets": 0, "fixed": 0}
    seen: set[Bucket] = set()

    def run(mode: str, steps: int) -> Window:
        window = Window()
        for _ in range(steps):
            i = counters[mode]
            counters[mode] += 1
            if mode == "buckets":
                bucket, size, _ = stream.at(i)
                seen.add(bucket)
            else:
                bucket, size = fixed_bucket, fixed_size
            batch = make_batch(bucket, size, g)
            start = time.perf_counter()
            train_step(model, optimizer, batch, cfg, empty, i)
            window.seconds += time.perf_counter() - start
            window.clips += size
            window.tokens += size * bucket.tokens()
            window.flops += 3 * forward_flops(model.cfg, size, bucket.tokens())
            window.steps += 1
        return window

    run("fixed", 1)  # warm-up (allocator, kernels) for both modes
    run("buckets", 1)
    results: dict[str, list[Window]] = {"buckets": [], "fixed": []}
    for r in range(args.rounds):
        for mode in ("buckets", "fixed"):
            w = run(mode, args.steps)
            results[mode].append(w)
            print(f"round {r + 1} {mode:<8} {w.clips / w.seconds:8.2f} clips/s {w.tokens / w.seconds:9.0f} tokens/s "
                  f"{w.flops / w.seconds / 1e9:6.1f} GFLOP/s  ({w.steps} steps, {w.seconds:.1f} s)", flush=True)

    def median(mode: str, f) -> float:  # type: ignore[no-untyped-def]
        return statistics.median(f(w) for w in results[mode])

    summary = {}
    for mode in ("buckets", "fixed"):
        summary[mode] = {
            "clips_per_s": median(mode, lambda w: w.clips / w.seconds),
            "tokens_per_s": median(mode, lambda w: w.tokens / w.seconds),
            "gflops": median(mode, lambda w: w.flops / w.seconds / 1e9),
            "budget_used": sum(w.tokens for w in results[mode]) / (args.budget * sum(w.steps for w in results[mode])),
            "seconds_per_step": median(mode, lambda w: w.seconds / w.steps),
        }
    summary["ratio_tokens_per_s"] = summary["buckets"]["tokens_per_s"] / summary["fixed"]["tokens_per_s"]
    summary["ratio_clips_per_s"] = summary["buckets"]["clips_per_s"] / summary["fixed"]["clips_per_s"]
    summary["setup"] = {"threads": args.threads, "budget": args.budget, "rounds": args.rounds, "steps": args.steps,
                        "model": "tiny", "grids_in_table": len(stream.table), "grids_seen": len(seen), "fixed": fixed_bucket.name,
                        "fixed_batch": fixed_size}
    print(f"\n{'mode':<8} {'clips/s':>9} {'tokens/s':>10} {'GFLOP/s':>8} {'s/step':>7} {'budget used':>12}")
    for mode in ("buckets", "fixed"):
        s = summary[mode]
        print(f"{mode:<8} {s['clips_per_s']:9.2f} {s['tokens_per_s']:10.0f} {s['gflops']:8.1f} {s['seconds_per_step']:7.2f} {s['budget_used']:12.0%}")
    print(f"bucketed / fixed: tokens/s x{summary['ratio_tokens_per_s']:.2f}, clips/s x{summary['ratio_clips_per_s']:.2f} "
          f"({len(seen)} of {len(stream.table)} grids visited; medians of {args.rounds} interleaved rounds, {args.threads} threads)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=2)


if __name__ == "__main__":
    main()
