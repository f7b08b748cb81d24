"""The machine's measured matmul peak: a square matmul (2048 by default), median over repeats.

Achieved GFLOP/s of a model only means something as a fraction of what this machine, with these
threads, at this moment, can do; so the peak is measured in the same run, never looked up.

Two fp32 kernels are measured, because they differ: `torch.mm` (MKL's sgemm, what eager
`F.linear` calls) and oneDNN's linear with a packed weight (what `kinema.models.packed` calls).
On AMD CPUs MKL does not use AVX-512, and oneDNN measured ~25% faster here (215 vs 171 GFLOP/s
on 2 cores); the machine's fp32 peak is the faster of the two, so a share of peak is never
flattered by a slow reference kernel.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
KERNELS = ("mkl", "onednn")  # torch.mm; oneDNN linear with a packed weight (fp32 only)


@dataclass(frozen=True)
class Peak:
    dtype: str
    kernel: str
    size: int
    threads: int
    gflops: float  # median over repeats
    samples: tuple[float, ...]  # GFLOP/s of each repeat

    def to_dict(self) -> dict:
        return asdict(self)


def square_matmul(dtype: str = "fp32", size: int = 2048, kernel: str = "mkl") -> Callable[[], torch.Tensor]:
    """A function computing one (size x size) @ (size x size) product (2 size^3 FLOPs) with `kernel`."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not supported; use one of: {', '.join(DTYPES)}")
    if kernel not in KERNELS:
        raise ValueError(f"kernel {kernel!r} is not supported; use one of: {', '.join(KERNELS)}")
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g).to(DTYPES[dtype])
    b = torch.randn(size, size, generator=g).to(DTYPES[dtype])
    if kernel == "mkl":
        return lambda: torch.mm(a, b)
    from kinema.models.packed import packing_available

    if dtype != "fp32" or not packing_available():
        raise ValueError(f"the onednn kernel is measured in fp32 on builds with oneDNN only (asked: {dtype})")
    packed = torch.ops.mkldnn._reorder_linear_weight(b.t().contiguous(), size)  # linear computes a @ weight.T
    return lambda: torch.ops.mkldnn._linear_pointwise(a, packed, None, "none", [], "")


def matmul_peak(dtype: str = "fp32", size: int = 2048, repeats: int = 5, warmup: int = 2, kernel: str = "mkl") -> Peak:
    """GFLOP/s of (size x size) @ (size x size) in `dtype` ("fp32" or "bf16") with `kernel`
    (`KERNELS`) at the current `torch.get_num_threads()`; 2 size^3 FLOPs a product."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0 (got {repeats}, {warmup})")
    product = square_matmul(dtype, size, kernel)
    for _ in range(warmup):
        product()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        samples.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return Peak(dtype, kernel, size, torch.get_num_threads(), statistics.median(samples), tuple(samples))


def measured_peaks(size: int = 2048, repeats: int = 5) -> dict[str, Peak]:
    """The peaks `kinema bench` reports: fp32 with MKL, fp32 with oneDNN where the build has it,
    and bf16 (MKL/oneDNN as torch.mm picks)."""
    from kinema.models.packed import packing_available

    peaks = {"fp32": matmul_peak("fp32", size, repeats)}
    if packing_available():
        peaks["fp32_onednn"] = matmul_peak("fp32", size, repeats, kernel="onednn")
    peaks["bf16"] = matmul_peak("bf16", size, repeats)
    return peaks


def fastest_fp32_kernel(peaks: dict[str, Peak]) -> str:
    """The fp32 kernel with the higher measured peak: the reference for shares of peak."""
    onednn = peaks.get("fp32_onednn")
    return "onednn" if onednn is not None and onednn.gflops > peaks["fp32"].gflops else "mkl"
