"""Run classifier-free guidance's two model passes at the same time, one per thread.

Contract: `BranchPair()` is a callable `pair(first, second) -> (first(), second())` that runs
`second` on its own worker thread while `first` runs on the caller's, each with half the caller's
intra-op threads (at least 1), and restores the caller's thread count afterwards. The caller's gradient,
inference and CPU autocast modes (thread-local in PyTorch) are carried to the worker. `branches_pay(model)` says
whether that is the faster way to run a guided step of `model` here.

Why: a guided step is two forward passes of a small model (the prompt and the empty prompt). Run
as one batch of 2 on 2 CPU threads, every one of the ~60 operations of a block ends at a barrier
where both threads meet, and most operations are too small to split well (a 144-token matmul is
~0.2 ms). Run as two batch-1 passes on one thread each, nothing is shared until the end: on these
2-core machines the pair took about the time of one pass (docs/performance.md). Each pass also
attends only to its own text, so the empty prompt's 2 tokens are not padded to the prompt's length.
PyTorch releases the GIL inside every operator, so the two passes truly overlap.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

A = TypeVar("A")
B = TypeVar("B")


def branches_pay(model: nn.Module) -> bool:
    """Two threads beat one batch of 2 for fp32 CPU inference with at least 2 intra-op threads and
    OpenMP threads that sleep when idle (OMP_WAIT_POLICY=PASSIVE, which `kinema`'s CLI sets).

    Not with spinning OpenMP threads (ACTIVE, or unset: libgomp spins a while by default): an idle
    pool thread of the caller keeps spinning beside the two branches, and the batch of 2 was as
    fast or faster (docs/performance.md). Not on GPUs (batching is what pays there), not for
    half-precision weights (not measured), and not inside a process group:
    `kinema.diffusion.parallel` splits the pair over processes instead, and its collectives must
    see one call at a time."""
    if os.environ.get("OMP_WAIT_POLICY", "").strip().upper() != "PASSIVE":
        return False
    parameter = next(model.parameters(), None)
    if parameter is None or parameter.device.type != "cpu" or parameter.dtype != torch.float32:
        return False
    if dist.is_available() and dist.is_initialized():
        return False
    return torch.get_num_threads() >= 2


class BranchPair:
    """Two calls at once: `first` on the calling thread, `second` on a worker (see module doc)."""

    def __init__(self) -> None:
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="kinema-branch")

    def __call__(self, first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
        threads = torch.get_num_threads()
        per_branch = max(1, threads // 2)
        grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()
        autocast, autocast_dtype = torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")

        def run_second() -> B:
            torch.set_num_threads(per_branch)  # per thread in OpenMP: the worker's own count
            with torch.inference_mode(inference), torch.set_grad_enabled(grad), \
                    torch.autocast("cpu", dtype=autocast_dtype, enabled=autocast):
                return second()

        torch.set_num_threads(per_branch)
        future = self._worker.submit(run_second)
        try:
            a = first()
        finally:
            wait([future])  # never leave the worker running past this call, even if `first` failed
            torch.set_num_threads(threads)
        return a, future.result()

    def close(self) -> None:
        self._worker.shutdown(wait=True)
