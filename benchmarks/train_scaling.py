"""Training cost by model size: parameters, tokens per clip, FLOPs per training step, measured step
times on this machine, and GPU-hours per million clips (an estimate from an assumed GPU rate).

    .venv/bin/python benchmarks/train_scaling.py --threads 2 --measure tiny,small -o runs/train_scaling.json

FLOPs (shared/BENCH.md, `kinema.bench.flops`): one forward of one clip with N video tokens and T
text tokens is 24 L d^2 N + 4 L N^2 d (self-attention and MLP) + L (4 d^2 N + 4 N T d + 4 d^2 T)
(cross-attention; training recomputes the text keys/values every step). A training step costs
3x its forward (backward = 2 forwards), 4x with activation checkpointing (one more forward).
Step times are measured as BENCH.md asks: interleaved with the fp32 matmul peak in the same
process, medians of several rounds after a warm-up, threads pinned.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict
from pathlib import Path

import torch

from kinema.bench.flops import dit_step_flops
from kinema.bench.peak import matmul_peak
from kinema.models.dit import PRESETS, DiT, DiTConfig

# Proposed ~1B preset (width 1280 = 20 heads of 64, depth 28, as DiT-XL's depth).
XL = DiTConfig(width=1280, depth=28, heads=20)
CANVASES = {"64x64x33": (9, 8, 8), "112x64x33": (9, 8, 14), "256x256x65": (17, 32, 32)}  # latent (F, H, W) of each pixel canvas
TEXT_TOKENS = 64  # a detailed world caption in MiniLM word pieces
CLIPS_PER_STEP = 16  # the default token budget: 16 four-second 64x64 clips (2304 tokens)


def presets() -> dict[str, DiTConfig]:
    return {**PRESETS, **({} if "xl" in PRESETS else {"xl (proposed)": XL})}


def parameters(cfg: DiTConfig) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in DiT(cfg).parameters())


def tokens(cfg: DiTConfig, latent: tuple[int, int, int]) -> int:
    pt, ph, pw = cfg.patch
    return (latent[0] // pt) * (latent[1] // ph) * (latent[2] // pw)


def train_flops_per_clip(cfg: DiTConfig, n: int, checkpointing: bool = False) -> float:
    forward = dit_step_flops(1, cfg.depth, cfg.width, n, TEXT_TOKENS, cfg.mlp_ratio, cached=False)
    return forward * (4 if checkpointing else 3)


def measure(cfg: DiTConfig, latent: tuple[int, int, int], clips: int, rounds: int) -> dict[str, float]:
    """Median seconds of one AdamW training step (forward, backward, step) on `clips` clips, each
    round followed by a 2048 fp32 matmul peak measurement (interleaved: same load for both)."""
    torch.manual_seed(0)
    model = DiT(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    from kinema.models.dit import TextContext

    x = torch.randn(clips, cfg.latent_channels, *latent, generator=g)
    text = TextContext(torch.randn(clips, TEXT_TOKENS, cfg.text_dim, generator=g), torch.ones(clips, TEXT_TOKENS, dtype=torch.bool),
                       torch.randn(clips, cfg.text_dim, generator=g))
    t = torch.rand(clips, generator=g)

    def step() -> float:
        start = time.perf_counter()
        loss = (model(x, t, text) - x).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return time.perf_counter() - start

    step()  # warm-up
    times, peaks = [], []
    for _ in range(rounds):
        times.append(step())
        peaks.append(matmul_peak(repeats=3, warmup=1).gflops)
    seconds = statistics.median(times)
    achieved = train_flops_per_clip(cfg, tokens(cfg, latent)) * clips / seconds / 1e9
    peak = statistics.median(peaks)
    return {"step_s": seconds, "clips": clips, "achieved_gflops": achieved, "peak_gflops": peak, "share_of_peak": achieved / peak,
            "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--measure", default="tiny,small", help="presets to time on this machine (64x64x33 canvas)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gpu-tflops", type=float, default=989.0, help="assumed GPU dense bf16 peak (H100/H200 SXM: 989)")
    parser.add_argument("--mfu", type=float, default=0.35, help="assumed share of that peak a training step achieves")
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    gpu_rate = args.gpu_tflops * 1e12 * args.mfu
    for name, cfg in presets().items():
        row: dict = {"preset": name, "config": asdict(cfg), "params_m": parameters(cfg) / 1e6, "canvases": {}}
        for canvas, latent in CANVASES.items():
            n = tokens(cfg, latent)
            flops = train_flops_per_clip(cfg, n)
            row["canvases"][canvas] = {"tokens": n, "train_gflop_per_clip": flops / 1e9,
                                       "train_gflop_per_clip_checkpointed": train_flops_per_clip(cfg, n, True) / 1e9,
                                       "train_tflop_per_default_step": flops * CLIPS_PER_STEP / 1e12 if canvas == "64x64x33" else None,
                                       "gpu_hours_per_million_clips_estimate": flops * 1e6 / gpu_rate / 3600}
        if name in args.measure.split(","):
            row["measured_cpu_64x64x33"] = measure(cfg, CANVASES["64x64x33"], CLIPS_PER_STEP, args.rounds)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "config"}))
    result = {"threads": args.threads, "text_tokens": TEXT_TOKENS, "clips_per_step": CLIPS_PER_STEP, "gpu_tflops_assumed": args.gpu_tflops,
              "mfu_assumed": args.mfu, "rows": rows}
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
