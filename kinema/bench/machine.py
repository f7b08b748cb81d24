"""A description of the machine a benchmark ran on: CPU, cores, vector extensions, load, torch.

Shared machines are noisy, so every result carries the load average at the time it was taken.
"""

from __future__ import annotations

import os
import platform
from typing import Any

FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma")


def cpu_info() -> tuple[str, set[str]]:
    """CPU model name and its feature flags (Linux /proc/cpuinfo; empty flags elsewhere)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model in ("", platform.machine(), platform.processor()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return model, flags


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def describe(threads: int) -> dict[str, Any]:
    """JSON-safe description: CPU, logical cores, flags that matter for matmul, torch, threads."""
    import torch

    model, flags = cpu_info()
    memory_gb = None
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "cpu": model,
        "logical_cores": os.cpu_count(),
        "flags": sorted(f for f in FLAGS_OF_INTEREST if f in flags),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "load_average": load_average(),
    }
