"""The machine's measured matmul peak: a square matmul (2048 by default), median over repeats.

Achieved GFLOP/s of a model only means something as a fraction of what this machine, with these
threads, at this moment, can do; so the peak is measured in the same run, never looked up.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Peak:
    dtype: str
    size: int
    threads: int
    gflops: float  # median over repeats
    samples: tuple[float, ...]  # GFLOP/s of each repeat

    def to_dict(self) -> dict:
        return asdict(self)


def matmul_peak(dtype: str = "fp32", size: int = 2048, repeats: int = 5, warmup: int = 2) -> Peak:
    """GFLOP/s of (size x size) @ (size x size) in `dtype` ("fp32" or "bf16") at the current
    `torch.get_num_threads()`; 2 size^3 FLOPs a product."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not supported; use one of: {', '.join(DTYPES)}")
    if size < 16 or repeats < 1 or warmup < 0:
        raise ValueError(f"size must be >= 16 and repeats >= 1, warmup >= 0 (got {size}, {repeats}, {warmup})")
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g).to(DTYPES[dtype])
    b = torch.randn(size, size, generator=g).to(DTYPES[dtype])
    for _ in range(warmup):
        torch.mm(a, b)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        samples.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return Peak(dtype, size, torch.get_num_threads(), statistics.median(samples), tuple(samples))
