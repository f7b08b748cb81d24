"""How `kinema bench` results read: rich tables for the terminal, a scaling plot, target checks.

Targets (issue 9, benchmarks not tests): a DiT step >= 1.5x faster than the same-size diffusers
transformer, >= 75% of the measured fp32 matmul peak in the transformer, the default 4-second clip
faster than real time end to end, and peak memory under 2 GB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table

TARGETS = {"peer_speedup": 1.5, "fraction_of_peak": 0.75, "real_time_factor": 1.0, "peak_memory_mb": 2048}


def _f(value: float | None, fmt: str = ".1f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{suffix}"


def _per_video_second(run: dict[str, Any], key: str) -> float | None:
    return run[key] / run["video_seconds"] if run.get(key) is not None and run.get("video_seconds") else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value and whether it is met (None: not measured)."""
    steps = results.get("dit_steps") or []
    # on an oversubscribed machine wall-clock ratios mostly measure who was descheduled: use CPU time
    clock = " (CPU time)" if oversubscribed(results) else ""
    key = "peer_over_kinema_cpu" if clock else "peer_over_kinema"
    best_ratio = max((s[key] for s in steps if s.get(key)), default=None)
    default_ratio = steps[0].get(key) if steps else None
    best_fraction = max((s["kinema_fraction_of_peak_cpu"] for s in steps if s.get("kinema_fraction_of_peak_cpu")), default=None)
    e2e = results.get("end_to_end") or {}
    few = results.get("end_to_end_few_step") or {}
    rtf = e2e.get("real_time_factor")
    key8 = "peer_over_int8_cpu" if clock else "peer_over_int8"
    int8_default = steps[0].get(key8) if steps else None
    int8_best = max((s[key8] for s in steps if s.get(key8)), default=None)
    int8 = results.get("end_to_end_int8") or {}
    ref = results.get("reference_step") or {}
    rows = [
        (f"DiT step vs diffusers Wan{clock} (default canvas)", default_ratio, TARGETS["peer_speedup"], ">=", "x"),
        (f"DiT step vs diffusers Wan{clock} (best canvas)", best_ratio, TARGETS["peer_speedup"], ">=", "x"),
        (f"same, Kinema --int8 vs the fp32 peer{clock} (default canvas)", int8_default, TARGETS["peer_speedup"], ">=", "x"),
        (f"same, Kinema --int8 vs the fp32 peer{clock} (best canvas)", int8_best, TARGETS["peer_speedup"], ">=", "x"),
        ("transformer share of fp32 peak, CPU time (best canvas)", best_fraction, TARGETS["fraction_of_peak"], ">=", ""),
        (f"DiT step vs diffusers Wan{clock} (reference size)", ref.get(key), TARGETS["peer_speedup"], ">=", "x"),
        ("transformer share of fp32 peak, CPU time (reference size)", ref.get("kinema_fraction_of_peak_cpu"), TARGETS["fraction_of_peak"], ">=", ""),
        ("default clip, seconds per second of video", rtf, TARGETS["real_time_factor"], "<", ""),
        ("same, distilled few-step sampler", few.get("real_time_factor"), TARGETS["real_time_factor"], "<", ""),
        # CPU seconds per second of video: wall time on an idle machine is at most this (fully serial)
        ("default clip, CPU seconds per second of video", _per_video_second(e2e, "cpu_seconds"), TARGETS["real_time_factor"], "<", ""),
        ("same, distilled few-step sampler", _per_video_second(few, "cpu_seconds"), TARGETS["real_time_factor"], "<", ""),
        ("same, --int8", _per_video_second(int8, "cpu_seconds"), TARGETS["real_time_factor"], "<", ""),
        ("peak resident memory, default clip (MB)", e2e.get("peak_rss_mb"), TARGETS["peak_memory_mb"], "<", ""),
    ]
    out = []
    for name, value, target, op, unit in rows:
        met = None if value is None else (value >= target if op == ">=" else value < target)
        out.append({"target": name, "value": value, "goal": f"{op} {target}{unit}", "met": met})
    return out


def tables(results: dict[str, Any]) -> Group:
    m = results["machine"]
    head = Table(title="Machine", show_header=False)
    load = m.get("load_average")
    head.add_row("cpu", f"{m['cpu']} ({m['logical_cores']} logical cores; {', '.join(m['flags']) or 'no AVX2'})")
    head.add_row("torch", f"{m['torch']} ({m['torch_cpu_capability']}), {m['threads']} threads, OMP_WAIT_POLICY={m['omp_wait_policy']}")
    head.add_row("load average", "-" if not load else f"{load[0]:.2f} at start, {results['machine'].get('load_average_end', [0])[0]:.2f} at end")
    if oversubscribed(results):
        head.add_row("[yellow]warning[/yellow]", "[yellow]the load exceeds the cores: wall-clock shares of peak mix in time spent "
                     "descheduled; read the CPU-time columns[/yellow]")
    for dtype, p in results["peak"].items():
        kernel = {"fp32": "torch.mm, MKL", "fp32_onednn": "oneDNN, packed weight", "bf16": "torch.mm"}.get(dtype, "")
        head.add_row(f"matmul peak {dtype}", f"{p['gflops']:.1f} GFLOP/s ({kernel}; {p['size']}^3, median of {len(p['samples'])}, at start)")
    if results.get("peak_kernel"):
        head.add_row("shares of peak are of", f"the faster fp32 kernel: {results['peak_kernel']} (interleaved with every step below)")
    peaks = [s["peak_gflops"] for s in results.get("dit_steps") or [] if s.get("peak_gflops")]
    if peaks:
        head.add_row("fp32 peak, interleaved", ", ".join(f"{v:.1f}" for v in peaks) + " GFLOP/s (beside each canvas below)")

    steps = results.get("dit_steps") or []
    how = "prompt and empty prompt on two threads" if steps and steps[0].get("branches") == "threads" else "one batch of 2"
    dit = Table(title=f"DiT per guided sampling step ({how}), 64 text tokens, K/V cached; interleaved with the diffusers "
                      "peer (one batch of 2, as diffusers runs it) and the fp32 peak matmul, medians")
    for col in ("canvas", "tokens", "GFLOP", "ms", "GFLOP/s", "of peak", "of peak (cpu)", "peer ms", "peer/us", "peer/us (cpu)",
                "batch-2 ms", "batch-2/us", "peer 2-thread ms", "/us", "eager ms", "eager/packed", "bf16 ms", "fp32/bf16",
                "int8 ms", "peer/int8 (cpu)", "MB", "peer MB"):
        dit.add_column(col, justify="right")
    for s in steps:
        dit.add_row(s["canvas"], str(s["tokens"]), _f(s["gflop"], ".2f"), _f(s["kinema_ms"]), _f(s["kinema_gflops"]),
                    _f(None if s["kinema_fraction_of_peak"] is None else 100 * s["kinema_fraction_of_peak"], ".0f", "%"),
                    _f(None if s.get("kinema_fraction_of_peak_cpu") is None else 100 * s["kinema_fraction_of_peak_cpu"], ".0f", "%"),
                    _f(s["peer_ms"]), _f(s["peer_over_kinema"], ".2f", "x"), _f(s.get("peer_over_kinema_cpu"), ".2f", "x"),
                    _f(s.get("batched_ms")), _f(s.get("batched_over_kinema"), ".2f", "x"),
                    _f(s.get("peer_threads_ms")), _f(s.get("peer_threads_over_kinema"), ".2f", "x"),
                    _f(s.get("unpacked_ms")), _f(s.get("unpacked_over_kinema"), ".2f", "x"), _f(s.get("bf16_ms")), _f(s.get("fp32_over_bf16"), ".2f", "x"),
                    _f(s.get("int8_ms")), _f(s.get("peer_over_int8_cpu"), ".2f", "x"), _f(s.get("kinema_memory_mb"), ".1f"), _f(s.get("peer_memory_mb"), ".1f"))
    parts: list[Any] = [head, dit]
    peer = results.get("peer")
    if peer and "unavailable" in peer:
        parts.append(f"[yellow]peer skipped: {peer['unavailable']}[/yellow]")

    if results.get("reference_step"):
        parts.append(reference_table(results["reference_step"]))

    growth = scaling_rows(results)
    if growth:
        grow = Table(title=f"Growth with tokens (relative to the default clip; {growth[0]['clock']} time)")
        for col in ("canvas", "tokens", "x tokens", "x time", "x memory"):
            grow.add_column(col, justify="right")
        for r in growth:
            grow.add_row(r["canvas"], str(r["tokens"]), _f(r["token_ratio"], ".0f"), _f(r["time_ratio"], ".2f"), _f(r["memory_ratio"], ".2f"))
        parts.append(grow)

    e2e = Table(title="Default 4-second 64x64 clip (33 frames at 8 fps), model loaded")
    for col in ("sampler", "text s", "sample s", "decode s", "safety s", "generate s", "/ real time", "generate CPU s", "peak RSS MB"):
        e2e.add_column(col, justify="right")
    for key, label in (("end_to_end", "full"), ("end_to_end_int8", "int8"), ("end_to_end_few_step", "few-step")):
        r = results.get(key)
        if r:
            st = r["stage_seconds"]
            e2e.add_row(f"{label}: {r['steps']} steps, cfg {r['guidance']:g}", _f(st["text"], ".2f"), _f(st["sample"], ".2f"),
                        _f(st["decode"], ".2f"), _f(st["safety_and_watermark"], ".2f"), _f(r["seconds"], ".2f"),
                        _f(r["real_time_factor"], ".2f"), _f(r.get("cpu_seconds"), ".2f"), _f(r.get("peak_rss_mb"), ".0f"))
    if results.get("end_to_end"):
        parts.append(e2e)
    vae = results.get("vae_decode")
    if vae:
        parts.append(f"VAE decode of the default clip: {vae['decode_ms']:.0f} ms (median of {len(vae['samples_ms'])})")
    fidelity = results.get("int8_fidelity") or {}
    if "psnr_int8_vs_fp32_db" in fidelity:
        parts.append(f"int8 video vs fp32 video, same seed: {fidelity['psnr_int8_vs_fp32_db']:.1f} dB PSNR "
                     f"(a different seed: {fidelity['psnr_other_seed_db']:.1f} dB; median of seeds {fidelity['seeds']})")
    elif fidelity:
        parts.append(f"[yellow]int8 skipped: {fidelity['unavailable']}[/yellow]")
    if results.get("memory_error"):
        parts.append(f"[yellow]memory probe failed: {results['memory_error']}[/yellow]")

    goal = Table(title="Targets")
    for col in ("target", "measured", "goal", "met"):
        goal.add_column(col)
    for t in targets(results):
        goal.add_row(t["target"], _f(t["value"], ".3g"), t["goal"], {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[t["met"]])
    parts.append(goal)
    return Group(*parts)


def reference_table(ref: dict[str, Any]) -> Table | Group:
    """The step at the reference size, and the most an fp32 step doing the same FLOPs at the peak
    could gain over the peer in CPU time: 1 / the peer's share of peak."""
    cfg = ref["dit"]
    table = Table(title=f"Reference size: {ref['preset']} preset, random init ({ref['parameters'] / 1e6:.0f}M parameters: {cfg['depth']} layers, "
                        f"{cfg['heads']} heads of {cfg['width'] // cfg['heads']}), {ref['tokens']} tokens, guided step as Kinema samples, medians")
    for col in ("ms", "GFLOP/s", "of peak", "of peak (cpu)", "eager ms", "eager/packed", "peer ms", "peer/us", "peer/us (cpu)",
                "peer of peak (cpu)", "most peer/us (cpu) an fp32 step at peak could reach"):
        table.add_column(col, justify="right")
    share = ref.get("peer_fraction_of_peak_cpu")
    table.add_row(_f(ref["kinema_ms"]), _f(ref["kinema_gflops"]), _f(100 * ref["kinema_fraction_of_peak"], ".0f", "%"),
                  _f(100 * ref["kinema_fraction_of_peak_cpu"], ".0f", "%"), _f(ref.get("unpacked_ms")), _f(ref.get("unpacked_over_kinema"), ".2f", "x"),
                  _f(ref.get("peer_ms")), _f(ref.get("peer_over_kinema"), ".2f", "x"), _f(ref.get("peer_over_kinema_cpu"), ".2f", "x"),
                  _f(None if share is None else 100 * share, ".0f", "%"), _f(None if not share else 1 / share, ".2f", "x"))
    if ref.get("peer_unavailable"):
        return Group(table, f"[yellow]peer skipped at the reference size: {ref['peer_unavailable']}[/yellow]")
    return table


def oversubscribed(results: dict[str, Any]) -> bool:
    m = results["machine"]
    load = m.get("load_average")
    return bool(load and m.get("logical_cores") and load[0] > m["logical_cores"])


def scaling_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Time and memory of the DiT step at each canvas, relative to the first (the default clip)."""
    steps = results.get("dit_steps") or []
    if not steps:
        return []
    base = steps[0]
    ms = "kinema_cpu_ms" if oversubscribed(results) and base.get("kinema_cpu_ms") else "kinema_ms"
    rows = []
    for s in steps:
        memory_ratio = None
        if s.get("kinema_memory_mb") and base.get("kinema_memory_mb"):
            memory_ratio = s["kinema_memory_mb"] / base["kinema_memory_mb"]
        rows.append({"canvas": s["canvas"], "tokens": s["tokens"], "token_ratio": s["tokens"] / base["tokens"],
                     "time_ratio": s[ms] / base[ms], "clock": "cpu" if ms == "kinema_cpu_ms" else "wall", "memory_ratio": memory_ratio,
                     "kinema_ms": s["kinema_ms"], "peer_ms": s.get("peer_ms"), "kinema_memory_mb": s.get("kinema_memory_mb"),
                     "peer_memory_mb": s.get("peer_memory_mb")})
    return rows


def plot_scaling(results: dict[str, Any], path: Path | str) -> Path:
    """Two panels, log-log: step time and step memory against tokens, Kinema and the peer, with
    linear and quadratic guides through the first point. Needs matplotlib (a dev extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ValueError(f"the scaling plot needs matplotlib (pip install matplotlib): {error}") from None
    rows = scaling_rows(results)
    if not rows:
        raise ValueError("no DiT step measurements to plot")
    tokens = [r["tokens"] for r in rows]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, peer_key, label in ((ax_t, "kinema_ms", "peer_ms", "ms per step"), (ax_m, "kinema_memory_mb", "peer_memory_mb", "MB above resident")):
        values = [r[key] for r in rows]
        if all(v for v in values):
            ax.plot(tokens, values, "o-", label="Kinema DiT")
            for power, style in ((1, ":"), (2, "--")):
                ax.plot(tokens, [values[0] * (n / tokens[0]) ** power for n in tokens], style, color="gray",
                        label="linear" if power == 1 else "quadratic")
        peer_values = [r[peer_key] for r in rows]
        if all(v for v in peer_values):
            ax.plot(tokens, peer_values, "s-", label="diffusers Wan (same size)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("video tokens (batch 2)")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    threads = results["machine"]["threads"]
    fig.suptitle(f"DiT step time and memory as tokens grow ({threads} threads)", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
