"""KinemaBench on the first entries of the ci subset, with the world's renders as the videos:
whole, or shared by torchrun ranks; rank 0 writes the results JSON.

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/distributed/bench_job.py OUT.json
"""

from __future__ import annotations

import json
import os
import sys

import torch

from kinema.eval.bench import render_reference, run_suite
from kinema.eval.suite import Suite, load_suite

ENTRIES = 5


def suite() -> Suite:
    ci = load_suite(subset="ci")
    return Suite(ci.name, ci.entries[:ENTRIES])


def main() -> None:
    torch.set_num_threads(1)
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        torch.distributed.init_process_group("gloo")
    results = run_suite(suite(), render_reference, label="ceiling", keep_frames=1, distributed=distributed)
    if int(os.environ.get("RANK", 0)) == 0:
        with open(sys.argv[1], "w") as out:
            json.dump(results, out)
    if distributed:
        torch.distributed.destroy_process_group()  # gloo's threads must stop before the process exits


if __name__ == "__main__":
    main()
