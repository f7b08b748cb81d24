"""`kinema bench`: measure how fast Kinema generates on this machine (shared/BENCH.md rules)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from kinema.cli.errors import friendly_errors

console = Console(stderr=True)

HELP = """Measure Kinema's speed on this machine, in one run, the honest way.

Prints the machine's measured matmul peak (fp32 with MKL and with oneDNN, the faster being the reference; bf16), the DiT forward per sampling step (packed oneDNN linears, as Kinema samples, and eager beside it) at the default 64x64 clip and at 2x and 4x its tokens (128x64, 128x128) with achieved GFLOP/s as a share of the peak, the same-size diffusers WanTransformer3DModel on the same inputs, interleaved, as a latency ratio, the same at the issue's reference size (a random 40M-parameter DiT, 12 layers, 6 heads of 64, 1024 tokens; with the peer's own share of peak in CPU time, which caps what any fp32 step of the same FLOPs can gain over it), VAE decode time, seconds to generate the default 4-second clip against its 4 seconds, peak resident memory, and how time and memory grow with tokens.

Examples:

  kinema bench                       # full run, 2 threads (a few minutes)

  kinema bench --quick --json        # fewer repeats; JSON with the machine's description

  kinema bench --threads 1 --plot scaling.png --output bench.json

  kinema bench --distilled runs/distill/student   # also time the few-step sampler
"""


@friendly_errors
def bench_command(
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON (machine, settings, every measurement) instead of tables."),
    quick: bool = typer.Option(False, "--quick", help="2 timed repeats instead of 5: a rough figure in about a third of the time."),
    threads: int = typer.Option(2, help="Threads for torch (pinned with torch.set_num_threads); the targets are for 2 cores."),
    repeats: int = typer.Option(None, help="Timed repetitions per measurement (medians are reported); default 5, or 2 with --quick."),
    weights: Path = typer.Option(None, help="Weights folder (default: the shipped weights/kinema-tiny, or $KINEMA_WEIGHTS)."),
    peer: bool = typer.Option(True, "--peer/--no-peer", help="Compare with the same-size diffusers WanTransformer3DModel (needs diffusers)."),
    end_to_end: bool = typer.Option(True, "--end-to-end/--no-end-to-end", help="Generate the default clip through the whole pipeline (with safety checks)."),
    distilled: Path = typer.Option(None, help="A distilled few-step DiT folder (kinema.diffusion.distill): also time generation with it."),
    int8: bool = typer.Option(True, "--int8/--no-int8", help="Also measure `kinema generate --int8` (int8 matmuls): its step beside the fp32 one and the peer, end to end, and how far its video is from fp32's (PSNR)."),
    reference: bool = typer.Option(True, "--reference/--no-reference", help="Also time a random DiT of the `small` preset (12 layers, 6 heads of 64) on 1024 tokens against the same-size peer: the share of peak with matmuls as large as the issue's figures assume (about a minute)."),
    output: Path = typer.Option(None, "--output", "-o", help="Also write the JSON results to this file."),
    plot: Path = typer.Option(None, help="Write the time/memory-versus-tokens plot (PNG) here; needs matplotlib."),
) -> None:
    from kinema.bench.report import plot_scaling, tables
    from kinema.bench.run import QUICK, REFERENCE, BenchSettings, json_ready, run_bench

    if distilled is not None and not distilled.is_dir():
        raise ValueError(f"--distilled {distilled} is not a folder; make one with `python benchmarks/distill_tiny.py`")
    settings = BenchSettings(threads=threads, repeats=repeats or (QUICK["repeats"] if quick else 5),
                             warmup=QUICK["warmup"] if quick else 1, weights=str(weights) if weights else None,
                             peer=peer, end_to_end=end_to_end, distilled=str(distilled) if distilled else None, int8=int8,
                             reference=REFERENCE if reference else None)
    with console.status("benchmarking") as status:
        results = run_bench(settings, note=lambda message: status.update(f"benchmarking: {message}"))
    results = json_ready(results)
    if plot is not None:
        results["plot"] = str(plot_scaling(results, plot))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=1) + "\n")
    if as_json:
        print(json.dumps(results, indent=1))
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=150)  # piped to a file: do not squeeze the tables into 80 columns
        out.print(tables(results))
        if plot is not None:
            console.print(f"plot: {plot}")


def register(app: typer.Typer) -> None:
    app.command("bench", help=HELP)(bench_command)
