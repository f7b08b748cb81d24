"""Memory of one DiT step per canvas, measured in a fresh child process.

Why a child: glibc keeps freed heap memory resident and raises its mmap threshold after the first
large frees, so in a long benchmark process the resident-set peak of a step undercounts what the
step needs. The child starts with `MALLOC_MMAP_THRESHOLD_` at 64 KiB (every tensor-sized block is
mmapped and returned on free), loads the model, and for each canvas reports the resident peak
above the resident size just before the step (MB), for Kinema and, if asked, the diffusers peer.

    python -m kinema.bench.memory --grid 9,8,8 --grid 9,16,16 [--weights W] [--peer]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "65536", "OMP_WAIT_POLICY": "PASSIVE"}


def step_memory(grids: list[tuple[int, int, int]], weights: str | None, peer: bool, threads: int,
                timeout: float = 600.0) -> dict[str, Any]:
    """{"kinema": [MB per grid], "peer": [MB per grid] or None}; {"error": ...} if the child failed."""
    args = [sys.executable, "-m", "kinema.bench.memory", "--threads", str(threads)]
    for grid in grids:
        args += ["--grid", ",".join(str(v) for v in grid)]
    if weights:
        args += ["--weights", weights]
    if peer:
        args.append("--peer")
    env = {**os.environ, **CHILD_ENV}
    try:
        done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"memory probe took over {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["memory probe failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid", action="append", required=True, help="latent grid F,H,W")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--peer", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    from kinema.bench.measure import guided_step, peak_rss_of, step_inputs
    from kinema.bench.peer import build_peer, peer_forward
    from kinema.models.packed import pack_linears, packing_available
    from kinema.pipeline import load_dit, weights_dir

    torch.set_num_threads(args.threads)
    grids = [tuple(int(v) for v in g.split(",")) for g in args.grid]
    dit = load_dit(args.weights or weights_dir())
    if packing_available():  # as Pipeline samples on the CPU (the packed weights are resident after the warm-up call)
        pack_linears(dit)
    out: dict[str, Any] = {"kinema": [], "peer": None}
    with torch.no_grad():
        warm = step_inputs(dit, grids[0])  # first calls allocate once-only buffers: not the step's cost
        guided_step(dit, warm)()
        for grid in grids:
            step = guided_step(dit, step_inputs(dit, grid))  # as the sampler runs it (text K/V made outside the step)
            out["kinema"].append(peak_rss_of(step))
        if args.peer:
            model = build_peer(dit.cfg)
            peer_forward(model, warm.latent, warm.timesteps, warm.text.tokens)
            out["peer"] = []
            for grid in grids:
                inputs = step_inputs(dit, grid)
                out["peer"].append(peak_rss_of(lambda: peer_forward(model, inputs.latent, inputs.timesteps, inputs.text.tokens)))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
