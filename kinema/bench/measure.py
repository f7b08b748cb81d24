"""The measurements of `kinema bench`: interleaved timing, resident memory, and what is timed.

Contract: every latency is the median of `repeats` runs after `warmup` runs; models compared with
each other run interleaved in this process (A, B, A, B, ...) so that load from other processes hits
both alike, and comparisons are reported as ratios. Memory is resident set size (RSS) as the
kernel reports it: the process peak (VmHWM), which `reset_peak_rss` lowers to the current RSS so
that the peak of one piece of work can be read alone (Linux; elsewhere the lifetime peak).
"""

from __future__ import annotations

import gc
import math
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from kinema.bench.flops import dit_step_flops
from kinema.diffusion.branches import branches_pay
from kinema.models.dit import DiT, TextContext

# The default clip is 33 frames (4.125 s at 8 fps), 64x64: a (9, 8, 8) latent grid, 144 tokens.
DEFAULT_GRID = (9, 8, 8)
# 1x, 2x, 4x the default clip's tokens: 64x64, 128x64 (wide), 128x128; 128x128 is the "larger canvas".
SCALING_GRIDS = {"64x64": (9, 8, 8), "128x64": (9, 8, 16), "128x128": (9, 16, 16)}
TEXT_TOKENS = 64  # a detailed world caption is 40-80 word pieces
CFG_BATCH = 2  # guided sampling runs the prompt and the empty prompt as one batch


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1,
                cpu: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Wall seconds of each call, alternating between the functions: warm-up rounds, then
    `repeats`. If `cpu` is given it receives the process CPU seconds of each call (all threads):
    on an oversubscribed machine wall time includes time spent descheduled, CPU time does not."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    times: dict[str, list[float]] = {name: [] for name in fns}
    if cpu is not None:
        cpu.update({name: [] for name in fns})
    for round_ in range(warmup + repeats):
        for name, fn in fns.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
            if round_ >= warmup:
                times[name].append(elapsed)
                if cpu is not None:
                    cpu[name].append(elapsed_cpu)
    return times


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


# --- memory -----------------------------------------------------------------------------------

def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def current_rss_mb() -> float | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else kb / 1024


def peak_rss_mb() -> float:
    """Peak resident memory of this process since start or the last `reset_peak_rss`."""
    kb = _status_kb("VmHWM")
    if kb is None:  # not Linux: the lifetime peak (kilobytes on Linux, bytes on macOS)
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024


def reset_peak_rss() -> bool:
    """Lower the peak to the current RSS (Linux clear_refs); False where that is impossible."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_of(fn: Callable[[], Any]) -> float | None:
    """Extra resident memory (MB) at the peak of `fn()` above what was resident before it."""
    if not reset_peak_rss():
        return None
    before = current_rss_mb()
    fn()
    return None if before is None else max(0.0, peak_rss_mb() - before)


# --- the DiT step against the peer ---------------------------------------------------------------

@dataclass(frozen=True)
class StepInputs:
    latent: torch.Tensor  # (B, C, F, H, W)
    timesteps: torch.Tensor  # (B,)
    text: TextContext


def step_inputs(dit: DiT, grid: tuple[int, int, int], batch: int = CFG_BATCH, text_tokens: int = TEXT_TOKENS,
                seed: int = 0) -> StepInputs:
    """Random latents, mid-schedule timesteps and text states for one step on `grid` (F, H, W)."""
    g = torch.Generator().manual_seed(seed)
    cfg = dit.cfg
    latent = torch.randn(batch, cfg.latent_channels, *grid, generator=g)
    text = TextContext(torch.randn(batch, text_tokens, cfg.text_dim, generator=g),
                       torch.ones(batch, text_tokens, dtype=torch.bool), torch.randn(batch, cfg.text_dim, generator=g))
    return StepInputs(latent, torch.full((batch,), 0.5), text)


def guided_step(dit: DiT, inputs: StepInputs, branches: str = "auto", guidance: float = 5.0) -> Callable[[], torch.Tensor]:
    """One guided sampling step as the sampler runs it (`guided_velocity`, text K/V cached): row 0
    of `inputs` is the prompt, row 1 the empty prompt (all text tokens valid, so both passes see
    the same tokens the peer does). `branches` as in `guided_velocity` ("auto": two threads on a
    CPU with 2+ sleeping OpenMP threads)."""
    from kinema.diffusion.sample import guided_velocity

    if inputs.latent.shape[0] != 2:
        raise ValueError(f"a guided step needs the batch of 2 (prompt, empty prompt), got {inputs.latent.shape[0]}")
    row = [TextContext(inputs.text.tokens[i:i + 1], inputs.text.mask[i:i + 1], inputs.text.pooled[i:i + 1]) for i in (0, 1)]
    velocity = guided_velocity(dit, row[0], row[1], guidance, branches=branches)
    latent, timesteps = inputs.latent[:1], inputs.timesteps[:1]
    return lambda: velocity(latent, timesteps)


def threaded_peer_step(peer: torch.nn.Module, inputs: StepInputs) -> Callable[[], Any]:
    """The peer's two passes run the way Kinema's sampler runs its own (two threads, batch 1 each):
    not how diffusers runs it, measured so that the gain of the schedule is not credited to the model."""
    from kinema.bench.peer import peer_forward
    from kinema.diffusion.branches import BranchPair

    pair = BranchPair()
    halves = [(inputs.latent[i:i + 1], inputs.timesteps[i:i + 1], inputs.text.tokens[i:i + 1]) for i in (0, 1)]
    return lambda: pair(lambda: peer_forward(peer, *halves[0]), lambda: peer_forward(peer, *halves[1]))


def tokens_of(dit: DiT, grid: tuple[int, int, int]) -> int:
    pt, ph, pw = dit.cfg.patch
    return (grid[0] // pt) * (grid[1] // ph) * (grid[2] // pw)


def measure_step(dit: DiT, grid: tuple[int, int, int], repeats: int, warmup: int = 1, peer: torch.nn.Module | None = None,
                 peak_size: int = 2048, bf16: bool = False, batch: int = CFG_BATCH, text_tokens: int = TEXT_TOKENS,
                 int8_dit: DiT | None = None, peak_kernel: str = "mkl", unpacked_dit: DiT | None = None) -> dict[str, Any]:
    """One guided sampling step on `grid` as the sampler runs it (`guided_step`: on a CPU with 2+
    threads the prompt and the empty prompt on two threads; also timed as one batch of 2),
    interleaved round by round with the peer on the same inputs (and, timed apart, the peer's
    two passes on two threads the same way), the fp32 matmul peak with `peak_kernel` (so that the share of peak compares like
    with like under changing load), if `bf16` Kinema under bf16 autocast, `int8_dit` (the same
    model with int8 matmuls, `kinema.models.int8`) and `unpacked_dit` (the same model on eager
    `F.linear`, when `dit` is packed: `kinema.models.packed`). Ratios are per round, then medians."""
    from kinema.bench.peak import square_matmul
    from kinema.bench.peer import peer_forward

    inputs = step_inputs(dit, grid, batch, text_tokens)
    tokens, cfg = tokens_of(dit, grid), dit.cfg
    flops = dit_step_flops(batch, cfg.depth, cfg.width, tokens, text_tokens, cfg.mlp_ratio, cached=True)
    peak_matmul = square_matmul("fp32", peak_size, peak_kernel)

    with torch.no_grad():
        step = guided_step(dit, inputs)
        fns: dict[str, Callable[[], Any]] = {"kinema": step, "peak": peak_matmul,
                                             "kinema_batched": guided_step(dit, inputs, branches="batch")}
        if peer is not None:
            fns["peer"] = lambda: peer_forward(peer, inputs.latent, inputs.timesteps, inputs.text.tokens)
            if torch.get_num_threads() >= 2:
                fns["peer_threads"] = threaded_peer_step(peer, inputs)
        if bf16:
            def bf16_step() -> torch.Tensor:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return step()
            fns["kinema_bf16"] = bf16_step
        if int8_dit is not None:
            fns["kinema_int8"] = guided_step(int8_dit, inputs)
        if unpacked_dit is not None:
            fns["kinema_unpacked"] = guided_step(unpacked_dit, inputs)
        cpu: dict[str, list[float]] = {}
        times = interleaved(fns, repeats, warmup, cpu)
    peak_flops = 2 * peak_size**3
    kinema_ms = median_ms(times["kinema"])
    out: dict[str, Any] = {
        "grid": list(grid),
        "tokens": tokens,
        "batch": batch,
        "text_tokens": text_tokens,
        "gflop": flops / 1e9,
        "kinema_ms": kinema_ms,
        "kinema_samples_ms": [t * 1000 for t in times["kinema"]],
        "kinema_gflops": flops / kinema_ms / 1e6,
        "peak_gflops": peak_flops / median_ms(times["peak"]) / 1e6,
        "peak_kernel": peak_kernel,
        # per round: (model FLOP/s) / (peak FLOP/s) = (flops / t_model) / (peak_flops / t_peak)
        "kinema_fraction_of_peak": statistics.median((flops / tk) / (peak_flops / tp) for tk, tp in zip(times["kinema"], times["peak"])),
        # the same share counted in CPU seconds: FLOPs per CPU-second of the model over those of the
        # peak matmul; unlike wall time it does not count time the process spent descheduled
        "kinema_cpu_ms": median_ms(cpu["kinema"]),
        "kinema_fraction_of_peak_cpu": statistics.median((flops / max(tk, 1e-9)) / (peak_flops / max(tp, 1e-9))
                                                         for tk, tp in zip(cpu["kinema"], cpu["peak"])),
        "peer_ms": None, "peer_samples_ms": None, "peer_gflops": None, "peer_over_kinema": None,
        "peer_cpu_ms": None, "peer_over_kinema_cpu": None, "peer_fraction_of_peak_cpu": None,
        "bf16_ms": None, "fp32_over_bf16": None,
        "int8_ms": None, "int8_cpu_ms": None, "fp32_over_int8": None, "peer_over_int8": None, "peer_over_int8_cpu": None,
        "unpacked_ms": None, "unpacked_over_kinema": None, "unpacked_over_kinema_cpu": None,
        # how the guided pair ran (auto: two threads on a CPU with 2+ threads), and the same step as one batch of 2
        "branches": "threads" if branches_pay(dit) else "batch",
        "batched_ms": median_ms(times["kinema_batched"]),
        "batched_over_kinema": statistics.median(b / k for b, k in zip(times["kinema_batched"], times["kinema"])),
        "batched_over_kinema_cpu": statistics.median(b / max(k, 1e-9) for b, k in zip(cpu["kinema_batched"], cpu["kinema"])),
        "peer_threads_ms": None, "peer_threads_over_kinema": None,
    }
    if unpacked_dit is not None:
        out.update(unpacked_ms=median_ms(times["kinema_unpacked"]),
                   unpacked_over_kinema=statistics.median(u / k for u, k in zip(times["kinema_unpacked"], times["kinema"])),
                   unpacked_over_kinema_cpu=statistics.median(u / max(k, 1e-9) for u, k in zip(cpu["kinema_unpacked"], cpu["kinema"])))
    if peer is not None:
        peer_ms = median_ms(times["peer"])
        peer_flops = dit_step_flops(batch, cfg.depth, cfg.width, tokens, text_tokens, cfg.mlp_ratio, cached=False)
        out.update(peer_ms=peer_ms, peer_samples_ms=[t * 1000 for t in times["peer"]], peer_gflops=peer_flops / peer_ms / 1e6,
                   # per-round ratio, then the median: robust to load that changes between rounds
                   peer_over_kinema=statistics.median(p / k for p, k in zip(times["peer"], times["kinema"])),
                   peer_cpu_ms=median_ms(cpu["peer"]),
                   peer_over_kinema_cpu=statistics.median(p / max(k, 1e-9) for p, k in zip(cpu["peer"], cpu["kinema"])),
                   # the peer's own share of peak in CPU time, counted with Kinema's FLOPs (the work both
                   # must do): an fp32 step of those FLOPs at the peak would be 1 / this times faster in CPU time
                   peer_fraction_of_peak_cpu=statistics.median((flops / max(tq, 1e-9)) / (peak_flops / max(tp, 1e-9))
                                                               for tq, tp in zip(cpu["peer"], cpu["peak"])))
        if "peer_threads" in times:
            out.update(peer_threads_ms=median_ms(times["peer_threads"]),
                       peer_threads_over_kinema=statistics.median(p / k for p, k in zip(times["peer_threads"], times["kinema"])))
    if bf16:
        out.update(bf16_ms=median_ms(times["kinema_bf16"]),
                   fp32_over_bf16=statistics.median(k / h for k, h in zip(times["kinema"], times["kinema_bf16"])))
    if int8_dit is not None:
        out.update(int8_ms=median_ms(times["kinema_int8"]), int8_cpu_ms=median_ms(cpu["kinema_int8"]),
                   fp32_over_int8=statistics.median(k / q for k, q in zip(times["kinema"], times["kinema_int8"])))
        if peer is not None:
            out.update(peer_over_int8=statistics.median(p / q for p, q in zip(times["peer"], times["kinema_int8"])),
                       peer_over_int8_cpu=statistics.median(p / max(q, 1e-9) for p, q in zip(cpu["peer"], cpu["kinema_int8"])))
    return out


def measure_int8_fidelity(pipe: Any, int8_pipe: Any, prompt: str, steps: int = 20, guidance: float = 5.0,
                          size: str = "64x64", frames: int = 33, seeds: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    """How far int8 sampling moves the video: PSNR of the int8 pipeline's frames against fp32's for
    the same seed, beside fp32 against fp32 of the next seed (what "a different video" measures)."""
    from kinema.diffusion.sample import SamplerConfig

    def psnr(a: Any, b: Any) -> float:
        mse = float(((a.astype("float64") - b) ** 2).mean())
        return 10 * math.log10(255.0**2 / max(mse, 1e-10))

    config = SamplerConfig(steps=steps, guidance=guidance)
    same, other = [], []
    with torch.no_grad():
        states = pipe.prompt_states(prompt)
        for seed in seeds:
            ref = pipe.decode_frames(pipe.sample_latent(states, size, frames, config, seed))
            same.append(psnr(int8_pipe.decode_frames(int8_pipe.sample_latent(states, size, frames, config, seed)), ref))
            other.append(psnr(pipe.decode_frames(pipe.sample_latent(states, size, frames, config, seed + 1000)), ref))
    return {"seeds": list(seeds), "psnr_int8_vs_fp32_db": statistics.median(same), "psnr_other_seed_db": statistics.median(other),
            "samples_int8_db": same, "samples_other_seed_db": other}


# --- VAE and end to end -------------------------------------------------------------------------

def measure_decode(vae: torch.nn.Module, grid: tuple[int, int, int], repeats: int, warmup: int = 1) -> dict[str, Any]:
    """VAE decode of one latent clip (batch 1) to pixels."""
    latent = torch.randn(1, vae.cfg.latent_channels, *grid, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        times = interleaved({"decode": lambda: vae.decode(latent)}, repeats, warmup)["decode"]
    return {"grid": list(grid), "decode_ms": median_ms(times), "samples_ms": [t * 1000 for t in times]}


def measure_end_to_end(pipe: Any, prompt: str, repeats: int, steps: int = 20, guidance: float = 5.0,
                       size: str = "64x64", frames: int = 33, fps: float = 8.0, warmup: int = 1) -> dict[str, Any]:
    """The default clip through `Pipeline.generate` (prompt check, text, sampling, decode, frame
    check, watermark) with the model already loaded, and each stage on its own (same settings)."""
    from kinema.diffusion.sample import SamplerConfig
    from kinema.pipeline import finish
    from kinema.safety import SafetySettings

    config = SamplerConfig(steps=steps, guidance=guidance)
    stages: dict[str, list[float]] = {"text": [], "sample": [], "decode": [], "safety_and_watermark": [], "generate": []}
    generate_cpu: list[float] = []

    def clear_text_cache() -> None:
        cache = getattr(pipe.encoder, "cache", None)
        if cache is not None:
            cache.clear()

    for round_ in range(warmup + repeats):
        clear_text_cache()
        with torch.no_grad():  # generate's own stages, one by one
            t0 = time.perf_counter()
            states = pipe.prompt_states(prompt)
            t1 = time.perf_counter()
            latent = pipe.sample_latent(states, size, frames, config, round_)
            t2 = time.perf_counter()
            pixels = pipe.decode_frames(latent)
            t3 = time.perf_counter()
            finish(pixels, SafetySettings())
            t4 = time.perf_counter()
        clear_text_cache()
        t5, c5 = time.perf_counter(), time.process_time()
        pipe.generate(prompt, size=size, frames=frames, steps=steps, guidance=guidance, seed=round_)
        t6, c6 = time.perf_counter(), time.process_time()
        if round_ >= warmup:
            generate_cpu.append(c6 - c5)
            for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t6 - t5)):
                stages[key].append(value)
    seconds = {key: statistics.median(values) for key, values in stages.items()}
    duration = frames / fps
    return {
        "size": size, "frames": frames, "video_seconds": duration, "steps": steps, "guidance": guidance,
        "stage_seconds": {k: v for k, v in seconds.items() if k != "generate"},
        "seconds": seconds["generate"],
        "samples_seconds": stages["generate"],
        "real_time_factor": seconds["generate"] / duration,  # < 1: faster than real time
        # CPU seconds of all threads: an idle machine with `threads` cores needs between
        # cpu / threads and cpu seconds of wall time (perfectly parallel .. fully serial)
        "cpu_seconds": statistics.median(generate_cpu),
        "model_seconds": seconds["text"] + seconds["sample"] + seconds["decode"],
    }
