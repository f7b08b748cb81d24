"""`kinema eval`: KinemaBench from the command line (score, run, calibrate, report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from kinema.cli.errors import friendly_errors

eval_app = typer.Typer(no_args_is_help=True)
console = Console()


def _write_json(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None


@eval_app.command("score")
@friendly_errors
def score_command(
    video: Path = typer.Argument(..., help="The video to score: .mp4, .gif, .png or a folder of frames."),
    prompt: str = typer.Argument(..., help="The prompt it was made from, in the world's caption grammar."),
    as_json: bool = typer.Option(False, "--json", help="Print the per-category scores as JSON."),
) -> None:
    """Score one video against its prompt, from pixels alone.

      kinema eval score ball.mp4 "a small red ball bounces to the right" --json
    """
    from kinema.eval.score import score_video
    from kinema.video import read_video

    score = score_video(read_video(video), prompt)
    if as_json:
        print(json.dumps(score.to_dict(), indent=1))
        return
    for name, value in score.categories.items():
        console.print(f"{name:12s} {'-' if value is None else f'{value:.3f}'}")
    console.print(f"{'overall':12s} {score.overall:.3f}   ({score.seconds:.2f} s)")


@eval_app.command("run")
@friendly_errors
def run_command(
    model: str = typer.Option(None, "--model", help="Weights folder for kinema.pipeline.generate (default: the shipped model)."),
    suite: str = typer.Option("kinemabench-v1", help="Suite name or path to a suite JSON."),
    subset: str = typer.Option("all", help="all, ci, or one group (appearance, motion, physics, ...)."),
    output: Path = typer.Option(Path("kinemabench-results.json"), "--output", "-o", help="Results JSON."),
    calibration: Path = typer.Option(None, help="A `kinema eval calibrate` JSON to print beside the model (default: the one shipped with the suite)."),
    examples: int = typer.Option(4, help="Keep frame strips of this many best and worst prompts for the report."),
    int8: bool = typer.Option(False, "--int8", help="Sample with int8 matmuls (kinema generate --int8) to measure what they cost in score."),
    steps: int = typer.Option(None, help="Sampling steps (default: kinema generate's)."),
    guidance: float = typer.Option(None, help="Classifier-free guidance scale (default: kinema generate's)."),
    solver: str = typer.Option(None, help="euler or heun (default: kinema generate's)."),
    shift: float = typer.Option(None, help="Timestep shift for sampling (default: kinema generate's)."),
    guidance_interval: str = typer.Option(None, "--guidance-interval", help="LOW,HIGH: guide only while t (1 = noise) is in this range (default: kinema generate's)."),
) -> None:
    """Generate every suite prompt with the model and score it; save results as JSON.

      kinema eval run --model weights/kinema-tiny --subset ci -o results.json

      kinema eval run --subset ci --int8 -o results-int8.json   # the score of int8 sampling

      kinema eval run --guidance 7 -o g7.json   # a sampler setting; then kinema eval compare

    The sampler options are recorded in the JSON ("sampler"); options left out take kinema
    generate's defaults.

    On several processes (each generates and scores its share; rank 0 merges and writes):

      torchrun --standalone --nproc-per-node 8 --no-python kinema eval run --subset ci -o results.json
    """
    from kinema.eval.bench import model_video_maker, run_suite
    from kinema.eval.report import table
    from kinema.eval.suite import load_suite, packaged_calibration

    from kinema.diffusion.sample import parse_interval

    sampler = {key: value for key, value in
               {"steps": steps, "guidance": guidance, "solver": solver, "shift": shift,
                "guidance_interval": None if guidance_interval is None else parse_interval(guidance_interval)}.items()
               if value is not None}
    if sampler:
        from kinema.diffusion.sample import SamplerConfig

        SamplerConfig(**sampler)  # a bad option fails here, not after the first video
    try:
        make = model_video_maker(model, int8, **sampler)
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    chosen = load_suite(suite, subset)
    from kinema.train.distributed import cpu_process_group

    label = (model or "shipped model") + (" (int8)" if int8 else "")
    label += "".join(f" {key}={value}" for key, value in sampler.items())
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with cpu_process_group() as (rank, world):  # under torchrun each process scores its share
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True, disable=rank != 0) as bar:
            task = bar.add_task("generating and scoring" + (f" (rank 0 of {world})" if world > 1 else ""), total=None)
            results = run_suite(chosen, make, label=label, keep_frames=examples, distributed=world > 1,
                                on_done=lambda done, total: bar.update(task, completed=done, total=total))
    results["sampler"] = sampler
    if rank != 0:
        return  # rank 0 writes and prints
    cal = _read_json(calibration) if calibration else packaged_calibration(chosen.name)
    if cal:
        results["calibration"] = {k: v for k, v in cal.items() if k != "runs"}
    _write_json(results, output)
    console.print(table(results, cal))
    if results["withheld"]:
        console.print(f"[yellow]{results['withheld']} videos withheld by the safety layer scored as blank videos "
                      f"(their records in {output} say why)[/yellow]")
    console.print(f"results: {output}")


@eval_app.command("calibrate")
@friendly_errors
def calibrate_command(
    suite: str = typer.Option("kinemabench-v1", help="Suite name or path to a suite JSON."),
    subset: str = typer.Option("all", help="all, ci, or one group."),
    output: Path = typer.Option(Path("kinemabench-calibration.json"), "--output", "-o", help="Calibration JSON."),
    mp4: bool = typer.Option(True, help="Also score the renders after an H.264 MP4 round trip."),
) -> None:
    """Score the world's own renders (ceiling), noise and shuffled pairs (floors); write JSON."""
    from kinema.eval.bench import calibrate
    from kinema.eval.report import table
    from kinema.eval.suite import load_suite

    cal = calibrate(load_suite(suite, subset), mp4=mp4)
    _write_json(cal, output)
    ceiling = {"label": "ceiling", "suite": cal["suite"], "count": cal["count"], "summary": cal["ceiling"], "seconds_per_video": cal["seconds_per_video"]}
    console.print(table(ceiling, cal))
    console.print(f"calibration: {output}")


@eval_app.command("report")
@friendly_errors
def report_command(
    results: Path = typer.Argument(..., help="Results JSON from `kinema eval run`."),
    output: Path = typer.Option(Path("kinemabench-report.html"), "--output", "-o", help="HTML report to write."),
    calibration: Path = typer.Option(None, help="Calibration JSON (else the one stored in the results, if any)."),
) -> None:
    """Print the results table and write the HTML report (bars per category, example frames)."""
    from kinema.eval.report import html, table

    data = _read_json(results)
    cal = _read_json(calibration) if calibration else data.get("calibration")
    console.print(table(data, cal))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html(data, cal))
    console.print(f"report: {output}")


@eval_app.command("compare")
@friendly_errors
def compare_command(
    base: Path = typer.Argument(..., help="Results JSON of the reference (`kinema eval run -o`)."),
    new: Path = typer.Argument(..., help="Results JSON of the model or setting to compare with it."),
    output: Path = typer.Option(None, "--output", "-o", help="Also write the paired differences as JSON."),
) -> None:
    """Paired differences (NEW - BASE) per category, over the prompts both scored, with standard errors.

      kinema eval run -o base.json; kinema eval run --guidance 7 -o g7.json
      kinema eval compare base.json g7.json

    Both runs use the suite's own seeds, so each prompt's two videos differ only by the model or
    setting: pairing removes the spread between prompts, and differences of about two standard
    errors or more (marked) are unlikely to be chance.
    """
    from kinema.eval.compare import compare_table, paired_differences

    first, second = _read_json(base), _read_json(new)
    if first.get("suite") != second.get("suite"):
        raise ValueError(f"{base} is suite {first.get('suite')!r} and {new} is {second.get('suite')!r}; compare runs of one suite")
    rows = paired_differences(first, second)
    console.print(compare_table(first, second, rows))
    if output is not None:
        _write_json({"base": str(base), "new": str(new), "rows": rows}, output)
        console.print(f"paired differences: {output}")
