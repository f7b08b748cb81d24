"""Before and after issue 9, measured the way shared/BENCH.md asks (one run, interleaved, medians).

    python benchmarks/before_after.py [--before 79f133f] [--threads 2] [--repeats 5]

1. In one process, interleaved: the DiT code of git revision --before (its models/dit.py and
   layers.py, loaded from git into a scratch package, with the current weights) against the
   current code, one guided sampling step on the default clip (144 tokens) and on 128x128 (576);
   and the 20-step full sampler against the 4-step sampler (sampling only, same model).
2. Across processes, alternating A, B, A, B (the setting cannot change inside a process): OpenMP
   threads that spin while waiting (OMP_WAIT_POLICY unset, the default before) against threads
   that sleep (PASSIVE, what `kinema bench` sets), the default-clip DiT step at --threads.
Prints a table and the load average at start and end.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_old_dit(revision: str, folder: Path):  # type: ignore[no-untyped-def]
    """The DiT class of `revision`, importable next to the current package."""
    package = folder / "kinema_before"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in ("dit", "layers"):
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:kinema/models/{name}.py"], check=True,
                                capture_output=True, text=True).stdout
        (package / f"{name}.py").write_text(source.replace("kinema.models.layers", "kinema_before.layers"))
    sys.path.insert(0, str(folder))
    return importlib.import_module("kinema_before.dit").DiT


def step_child(threads: int, repeats: int) -> None:
    """Child mode: print the median ms of the default-clip guided DiT step."""
    import torch

    from kinema.bench.measure import DEFAULT_GRID, interleaved, median_ms, step_inputs
    from kinema.pipeline import load_dit, weights_dir

    torch.set_num_threads(threads)
    dit = load_dit(weights_dir())
    inputs = step_inputs(dit, DEFAULT_GRID)
    with torch.no_grad():
        kv = dit.text_kv(inputs.text)
        times = interleaved({"step": lambda: dit(inputs.latent, inputs.timesteps, inputs.text, kv)}, repeats, 2)["step"]
    print(json.dumps({"ms": median_ms(times)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="79f133f", help="git revision before the work (default: the issue's start)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--alternations", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return step_child(args.threads, args.repeats)
    # Part 1 compares code, not thread policy: run it with sleeping waits (as `kinema bench` does).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    from kinema.bench.measure import interleaved, median_ms, step_inputs
    from kinema.diffusion.sample import guided_velocity, sample, timestep_schedule
    from kinema.pipeline import load_dit, weights_dir

    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    rows = []
    new = load_dit(weights_dir())
    with tempfile.TemporaryDirectory() as scratch:
        old = load_old_dit(args.before, Path(scratch))(new.cfg)
        old.load_state_dict(new.state_dict())
        old.eval()
        for canvas, grid in (("64x64", (9, 8, 8)), ("128x128", (9, 16, 16))):
            inputs = step_inputs(new, grid)
            with torch.no_grad():
                kv_new, kv_old = new.text_kv(inputs.text), old.text_kv(inputs.text)
                diff = (new(inputs.latent, inputs.timesteps, inputs.text, kv_new) - old(inputs.latent, inputs.timesteps, inputs.text, kv_old)).abs().max().item()
                cpu: dict[str, list[float]] = {}
                times = interleaved({"before": lambda: old(inputs.latent, inputs.timesteps, inputs.text, kv_old),
                                     "after": lambda: new(inputs.latent, inputs.timesteps, inputs.text, kv_new)}, args.repeats, 1, cpu)
            cpu_ratio = statistics.median(b / a for b, a in zip(cpu["before"], cpu["after"]))
            rows.append((f"DiT step {canvas} (same process)", median_ms(times["before"]), median_ms(times["after"]),
                         statistics.median(b / a for b, a in zip(times["before"], times["after"])),
                         f"CPU-time ratio {cpu_ratio:.2f}x; max |diff| {diff:.1e}"))
    inputs = step_inputs(new, (9, 8, 8), batch=1)
    empty = step_inputs(new, (9, 8, 8), batch=1, seed=1).text
    with torch.no_grad():
        velocity = guided_velocity(new, inputs.text, empty, 5.0)
        cpu = {}
        times = interleaved({"20": lambda: sample(velocity, inputs.latent, timestep_schedule(20)),
                             "4": lambda: sample(velocity, inputs.latent, timestep_schedule(4))}, max(2, args.repeats // 2), 1, cpu)
    rows.append(("sampling the default clip, 20 -> 4 steps", median_ms(times["20"]), median_ms(times["4"]),
                 statistics.median(b / a for b, a in zip(times["20"], times["4"])),
                 f"few-step sampler; CPU-time ratio {statistics.median(b / a for b, a in zip(cpu['20'], cpu['4'])):.2f}x"))
    spins, sleeps = [], []
    for _ in range(args.alternations):
        for policy, bucket in ((None, spins), ("PASSIVE", sleeps)):
            env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}  # unset: libgomp's default
            if policy:
                env["OMP_WAIT_POLICY"] = policy
            out = subprocess.run([sys.executable, __file__, "--child", "--threads", str(args.threads), "--repeats", str(args.repeats)],
                                 env=env, capture_output=True, text=True, check=True).stdout
            bucket.append(json.loads(out.strip().splitlines()[-1])["ms"])
    rows.append((f"DiT step 64x64, {args.threads} threads: OMP spin -> sleep (processes)", statistics.median(spins),
                 statistics.median(sleeps), statistics.median(s / p for s, p in zip(spins, sleeps)), f"{args.alternations} alternations"))
    print(f"threads {args.threads}, repeats {args.repeats}; load average {load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    print(f"{'measurement':62s} {'before ms':>10s} {'after ms':>10s} {'speedup':>8s}  note")
    for name, before, after, ratio, note in rows:
        print(f"{name:62s} {before:10.1f} {after:10.1f} {ratio:7.2f}x  {note}")


if __name__ == "__main__":
    main()
