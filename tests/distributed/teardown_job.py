"""A job whose last collective's tensors a gloo worker thread frees late; it must still exit
cleanly through `close_distributed`. Run it under torchrun with 2 processes:

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/distributed/teardown_job.py [--no-barrier | --bare]

Rank 1 gathers into tensors whose Python objects it drops at once, so the gloo worker that ran
the gather frees them once rank 0 joins it (taking the GIL to do so), each slowly: a slow
__del__ standing in for a worker descheduled on a loaded machine. Rank 1 starts its teardown
while those frees are still running. Its last exit handler holds the GIL in one long C call, so
a free still pending when the process exits would come during interpreter finalization, where
CPython ends the worker thread inside a C++ destructor: SIGABRT, "terminate called without an
active exception", as in the flaky FSDP stop test. As FSDP2 and DTensor do, the job keeps a
reference to the group, so destroy_process_group() cannot join gloo's threads. --no-barrier
skips the final barrier (the wait for gloo's workers alone must prevent the abort); --bare tears
down with a bare destroy_process_group(), which shows it.
"""

from __future__ import annotations

import atexit

atexit.register(sum, range(30_000_000))  # registered first, so it runs last: ~0.5 s holding the GIL in C

import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from kinema.train.distributed import close_distributed, init_distributed  # noqa: E402

FREE_TIME = 0.3  # seconds each late free takes on the worker
freed_on: list[str] = []
group_users: list[object] = []  # FSDP2 and DTensor hold the group like this until exit


class SlowToFree(torch.Tensor):
    def __del__(self) -> None:
        end = time.perf_counter() + FREE_TIME
        while time.perf_counter() < end:  # Python code on the gloo worker, holding the GIL in turns
            pass
        freed_on.append(threading.current_thread().name)


def main() -> None:
    torch.set_num_threads(1)
    env, _ = init_distributed(torch.device("cpu"), "ddp")
    group_users.append(dist.group.WORLD)  # so destroying the group cannot join gloo's threads
    if env.rank == 1:
        out = [torch.zeros(4).as_subclass(SlowToFree) for _ in range(env.world_size)]
        work = dist.all_gather(out, torch.ones(4), async_op=True)  # rank 0 joins it at 0.3 s
        del out, work  # from now on only the gloo worker holds the gathered tensors
        time.sleep(0.4)  # the gather is done; its worker is freeing the tensors until ~0.9 s
    else:
        time.sleep(0.3)
        dist.all_gather([torch.zeros(4) for _ in range(env.world_size)], torch.ones(4))
    if "--bare" in sys.argv:
        dist.destroy_process_group()
        return
    close_distributed(env, synchronize="--no-barrier" not in sys.argv)
    if env.rank == 1:
        main_thread = threading.main_thread().name
        print(f"rank 1: {len(freed_on)} gathered tensors freed before teardown ended, "
              f"{sum(name != main_thread for name in freed_on)} of them on a gloo worker", flush=True)


if __name__ == "__main__":
    main()
