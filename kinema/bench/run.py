"""One `kinema bench` run: settings in, a JSON-safe results dict out (schema `kinema-bench/1`).

Order matters for memory: the default clip is generated end to end first, so that the process's
peak resident memory at that point is the peak of generating it (the peer and larger canvases
come later and are reported apart).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA = "kinema-bench/1"
# The reference size (12 layers, 6 heads of 64, 1024 tokens): a preset and a latent grid.
REFERENCE = ("small", (4, 32, 32))
DEFAULT_PROMPT = "A small red circle starts on the left and bounces toward the right across a black background with a gray floor. The camera is still."


@dataclass(frozen=True)
class BenchSettings:
    threads: int = 2  # pinned with torch.set_num_threads; the targets are for 2 cores
    repeats: int = 5  # timed repetitions per measurement (medians reported)
    warmup: int = 1
    weights: str | None = None  # weights folder (default: the shipped model)
    peer: bool = True  # compare with the same-size diffusers WanTransformer3DModel
    end_to_end: bool = True
    steps: int = 20
    guidance: float = 5.0
    distilled: str | None = None  # a distilled few-step weights folder: also time its sampler
    int8: bool = True  # also measure int8 sampling (kinema.models.int8): step, end to end, and how far the video moves
    scaling: tuple[str, ...] = ("64x64", "128x64", "128x128")
    peak_size: int = 2048  # square matmul for the peak (shared/BENCH.md); smaller only in tests
    # The reference size, where its orientation figures were measured (12 layers, 6 heads of
    # 64, 1024 tokens): a randomly initialised DiT of this preset on this latent grid (frames, rows,
    # cols), packed as Kinema samples, against the same-size peer. None: skipped.
    reference: tuple[str, tuple[int, int, int]] | None = REFERENCE

    def __post_init__(self) -> None:
        if not 1 <= self.threads <= 256:
            raise ValueError(f"threads {self.threads} is out of range; use 1 to 256")
        if not 1 <= self.repeats <= 100:
            raise ValueError(f"repeats {self.repeats} is out of range; use 1 to 100")
        from kinema.bench.measure import SCALING_GRIDS

        for name in self.scaling:
            if name not in SCALING_GRIDS:
                raise ValueError(f"scaling canvas {name!r} is unknown; use: {', '.join(SCALING_GRIDS)}")
        if self.reference is not None:
            from kinema.models.dit import PRESETS

            if self.reference[0] not in PRESETS:
                raise ValueError(f"reference preset {self.reference[0]!r} is unknown; use: {', '.join(PRESETS)}")


QUICK = dict(repeats=2, warmup=1)


def run_bench(settings: BenchSettings, note: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Measure everything `kinema bench` prints; `note(message)` reports progress."""
    import torch

    from kinema.bench import machine, measure, peak
    from kinema.bench.memory import step_memory
    from kinema.bench.peer import PeerUnavailable, build_peer
    from kinema.models.packed import is_packed, unpack_linears
    from kinema.pipeline import Pipeline

    torch.set_num_threads(settings.threads)
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine.describe(settings.threads),
        "settings": asdict(settings),
    }
    note("matmul peak (fp32 with MKL and with oneDNN, bf16)")
    peaks = peak.measured_peaks(settings.peak_size, repeats=max(3, settings.repeats))
    results["peak"] = {d: p.to_dict() for d, p in peaks.items()}
    results["peak_kernel"] = peak_kernel = peak.fastest_fp32_kernel(peaks)  # shares of peak are of the faster one

    note("loading the model")
    pipe = Pipeline.from_pretrained(settings.weights)
    results["model"] = {"name": pipe.name, "dit": {**asdict(pipe.dit.cfg), "patch": list(pipe.dit.cfg.patch)},
                        "dit_parameters": sum(p.numel() for p in pipe.dit.parameters()),
                        "vae_parameters": sum(p.numel() for p in pipe.vae.parameters())}
    results["rss_after_load_mb"] = measure.current_rss_mb()

    if settings.end_to_end:
        note(f"end to end: the default 4-second 64x64 clip, {settings.steps} steps")
        measure.reset_peak_rss()
        results["end_to_end"] = measure.measure_end_to_end(pipe, DEFAULT_PROMPT, settings.repeats, settings.steps,
                                                           settings.guidance, warmup=settings.warmup)
        results["end_to_end"]["peak_rss_mb"] = measure.peak_rss_mb()
        if settings.distilled:
            from kinema.diffusion.distill import with_distilled

            note("end to end: the distilled few-step sampler")
            few, few_steps, few_guidance = with_distilled(pipe, settings.distilled)  # packed like `pipe`
            results["end_to_end_few_step"] = measure.measure_end_to_end(
                few, DEFAULT_PROMPT, settings.repeats, few_steps, few_guidance, warmup=settings.warmup)
            results["end_to_end_few_step"]["distilled"] = str(Path(settings.distilled))

    int8_pipe = None
    if settings.int8:
        from kinema.models.int8 import int8_available

        if int8_available():
            int8_pipe = pipe.with_int8()
            if settings.end_to_end:
                note("end to end: int8 matmuls")
                results["end_to_end_int8"] = measure.measure_end_to_end(int8_pipe, DEFAULT_PROMPT, settings.repeats, settings.steps,
                                                                        settings.guidance, warmup=settings.warmup)
            note("int8 fidelity: the same seeds in fp32 and int8")
            results["int8_fidelity"] = measure.measure_int8_fidelity(pipe, int8_pipe, DEFAULT_PROMPT, settings.steps, settings.guidance)
        else:
            results["int8_fidelity"] = {"unavailable": "no quantised CPU engine in this PyTorch build"}

    note("VAE decode")
    results["vae_decode"] = measure.measure_decode(pipe.vae, measure.DEFAULT_GRID, settings.repeats, settings.warmup)

    peer, results["peer"] = None, None
    if settings.peer:
        try:
            from kinema.bench.peer import wan_config

            peer = build_peer(pipe.dit.cfg)
            results["peer"] = {"model": "diffusers.WanTransformer3DModel (random init)",
                               "config": {k: list(v) if isinstance(v, tuple) else v for k, v in wan_config(pipe.dit.cfg).items()},
                               "parameters": sum(p.numel() for p in peer.parameters())}
        except PeerUnavailable as error:
            results["peer"] = {"unavailable": str(error)}
    native_bf16 = bool({"avx512_bf16", "amx_bf16"} & set(results["machine"]["flags"]))
    unpacked = unpack_linears(copy.deepcopy(pipe.dit)) if is_packed(pipe.dit) else None  # eager F.linear, for the packing gain
    steps = []
    for name in settings.scaling:
        note(f"DiT step on {name}" + (" against the diffusers peer" if peer is not None else ""))
        row = measure.measure_step(pipe.dit, measure.SCALING_GRIDS[name], settings.repeats, settings.warmup, peer,
                                   settings.peak_size, bf16=native_bf16, int8_dit=int8_pipe.dit if int8_pipe else None,
                                   peak_kernel=peak_kernel, unpacked_dit=unpacked)
        steps.append({"canvas": name, **row})
    if settings.reference is not None:
        results["reference_step"] = measure_reference(settings, peak_kernel, note)
    note("memory per step (a fresh child process)")
    grids = [measure.SCALING_GRIDS[name] for name in settings.scaling]
    memory = step_memory(grids, settings.weights, peer is not None, settings.threads)
    for i, step in enumerate(steps):
        step["kinema_memory_mb"] = memory["kinema"][i] if "kinema" in memory else None
        step["peer_memory_mb"] = memory["peer"][i] if memory.get("peer") else None
    if "error" in memory:
        results["memory_error"] = memory["error"]
    results["dit_steps"] = steps
    results["process_peak_rss_mb"] = measure.peak_rss_mb()
    results["machine"]["load_average_end"] = machine.load_average()
    return results


def measure_reference(settings: BenchSettings, peak_kernel: str, note: Callable[[str], None]) -> dict[str, Any]:
    """The guided step of a randomly initialised DiT of the reference preset and grid, sampled the
    way Kinema samples (packed linears where oneDNN has them; eager beside it), against the
    same-size peer: the share of peak where the matmuls are as large as the issue's figures assume."""
    import torch

    from kinema.bench import measure
    from kinema.bench.peer import PeerUnavailable, build_peer
    from kinema.models.dit import PRESETS, DiT
    from kinema.models.packed import pack_linears, packing_available

    preset, grid = settings.reference
    torch.manual_seed(0)
    eager = DiT(PRESETS[preset]).eval()
    packed = pack_linears(copy.deepcopy(eager)) if packing_available() else None
    peer, peer_note = None, None
    if settings.peer:
        try:
            peer = build_peer(eager.cfg)
        except PeerUnavailable as error:
            peer_note = str(error)
    note(f"DiT step at the reference size ({preset} preset, {measure.tokens_of(eager, grid)} tokens)")
    row = measure.measure_step(packed or eager, grid, settings.repeats, settings.warmup, peer, settings.peak_size,
                               peak_kernel=peak_kernel, unpacked_dit=eager if packed is not None else None)
    return {"preset": preset, "parameters": sum(p.numel() for p in eager.parameters()),
            "dit": {**asdict(eager.cfg), "patch": list(eager.cfg.patch)}, "peer_unavailable": peer_note, **row}


def json_ready(results: dict[str, Any]) -> dict[str, Any]:
    """Drop per-repeat samples' float noise to a few digits (the JSON stays readable)."""
    def tidy(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 4)
        if isinstance(value, dict):
            return {k: tidy(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [tidy(v) for v in value]
        return value

    return tidy(results)

