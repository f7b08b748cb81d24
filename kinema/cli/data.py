"""`kinema data`: check a video dataset and cache its latents for training.

A dataset is a folder of videos with a caption beside each (`clip.mp4` + `clip.txt`), or a CSV /
JSONL manifest with a path and a caption per row. docs/data.md describes the layout.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from kinema.cli.errors import friendly_errors

data_app = typer.Typer(no_args_is_help=True, rich_markup_mode="rich")
stdout = Console()
stderr = Console(stderr=True)
SHIPPED = Path("weights/kinema-tiny")

FPS_HELP = "Model frame rate: every clip is resampled to it (the shipped model: 8)."
BUCKETS_HELP = "Bucket table (sizes x durations): video (default), shipped, world-small or world."


def _config(fps: float, min_frames: int, max_frames: int, buckets: str, seed: int = 0):  # type: ignore[no-untyped-def]
    from kinema.train.video_data import VideoDataConfig

    config = VideoDataConfig(fps=fps, buckets=buckets, min_frames=min_frames, max_frames=max_frames, seed=seed)
    config.table()  # fail now on a bad preset or duration range
    return config


@data_app.command("check", short_help="What training would use or skip in a video dataset, and why.")
@friendly_errors
def check_command(
    source: Path = typer.Argument(..., help="A folder of videos (captions in NAME.txt beside NAME.mp4) or a .csv/.jsonl manifest."),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON (one entry per file) instead of a table."),
    fps: float = typer.Option(8.0, help=FPS_HELP),
    min_frames: int = typer.Option(9, help="Skip clips with fewer frames than this at --fps (too short)."),
    max_frames: int = typer.Option(33, help="Longest training crop, 1 + 4k frames (33 = 4 s at 8 fps)."),
    buckets: str = typer.Option("video", help=BUCKETS_HELP),
) -> None:
    """Validate a dataset: which files training would use (and in which bucket), which it would
    skip and why (missing, unreadable, no video stream, too short, no caption).

    Exit code 0 when every file is usable, 1 when any would be skipped or none is found.

    Examples:

      kinema data check my_videos/

      kinema data check manifest.jsonl --json > report.json
    """
    from kinema.train.dataset_check import check_dataset

    config = _config(fps, min_frames, max_frames, buckets)
    logger = logging.getLogger("kinema.data")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the table lists every skip already
    try:
        report = check_dataset(source, config, progress=not as_json)
    finally:
        logger.setLevel(level)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        table = Table(title=f"{source}: {len(report.used)} used, {len(report.skipped)} skipped")
        for column in ("file", "status", "bucket / reason", "source", "caption"):
            table.add_column(column, overflow="fold")
        for row in report.rows:
            status = "[green]use[/]" if row.status == "use" else "[red]skip[/]"
            why = row.bucket if row.status == "use" else f"{row.reason}" + (f": {row.detail}" if row.detail else "")
            caption = row.caption if len(row.caption) <= 60 else row.caption[:57] + "..."
            table.add_row(_short(row.path, source), status, why, row.source, caption)
        stdout.print(table)
        if report.used:
            buckets_line = ", ".join(f"{b} x{n}" for b, n in sorted(report.bucket_counts().items()))
            stdout.print(f"buckets: {buckets_line}; {report.seconds():.1f} s of video per epoch (one crop per file) at {fps:g} fps")
        if report.skipped:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(report.skip_counts().items()))
            stdout.print(f"[red]would skip {len(report.skipped)}[/]: {reasons}")
        if not report.rows:
            stdout.print(f"[red]no videos found in {source}[/] (looked for .mp4, .mov, .m4v, .mkv, .webm, .avi)")
    raise typer.Exit(0 if report.ok else 1)


def _short(path: str, source: Path) -> str:
    base = source if source.is_dir() else source.parent
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return path


@data_app.command("cache", short_help="Pre-encode a video dataset into latent shards (resumable).")
@friendly_errors
def cache_command(
    source: Path = typer.Argument(..., help="A folder of videos with captions, or a .csv/.jsonl manifest."),
    output: Path = typer.Option(..., "--output", "-o", help="Cache folder: safetensors shards, one bucket each (rerun to resume)."),
    weights: Path = typer.Option(SHIPPED, help="Weights folder whose VAE encodes the clips (use the one you will train or fine-tune)."),
    crops: int = typer.Option(1, help="Random temporal crops cached per video (more: more variety from long videos)."),
    shard_clips: int = typer.Option(16, help="Clips per shard."),
    workers: int = typer.Option(2, help="DataLoader processes decoding videos (0: decode in this process)."),
    fps: float = typer.Option(8.0, help=FPS_HELP),
    min_frames: int = typer.Option(9, help="Skip clips with fewer frames than this at --fps."),
    max_frames: int = typer.Option(33, help="Longest crop, 1 + 4k frames."),
    buckets: str = typer.Option("video", help=BUCKETS_HELP),
    seed: int = typer.Option(0, help="Seed of the random crops."),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
) -> None:
    """Pre-encode VAE latents and text states of a video dataset into safetensors shards grouped by
    bucket, so training (`kinema finetune --data OUT`, `kinema train dit --cache OUT`) never
    re-encodes. Resumable: a rerun with the same options skips finished shards. Unreadable files are
    logged, listed in OUT/skipped.jsonl and left out.

    Example: kinema data cache my_videos/ -o runs/my_cache --weights weights/kinema-tiny --crops 2
    """
    import torch
    from rich.logging import RichHandler

    from kinema.pipeline import load_vae
    from kinema.text.encoder import default_encoder
    from kinema.train.latents import build_video_cache

    config = _config(fps, min_frames, max_frames, buckets, seed)
    if workers < 0:
        raise ValueError(f"--workers {workers} must be 0 or more")
    if threads:
        torch.set_num_threads(threads)
    handler = RichHandler(console=stderr, show_path=False, show_time=False)
    logger = logging.getLogger("kinema.data")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        counts = build_video_cache(load_vae(weights), default_encoder(), source, output, config, crops=crops,
                                   shard_clips=shard_clips, workers=workers, progress=True)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    stderr.print(f"{output}: {counts['shards_written']} shards written ({counts['clips_encoded']} clips), "
                 f"{counts['shards_done_before']} already done, {counts['clips_skipped']} clips skipped")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data", help="Check a video dataset and cache its latents for training or fine-tuning.")
