"""`kinema finetune`: LoRA or full fine-tuning of a Kinema checkpoint on your own videos.

docs/finetune.md has the recipe. The run keeps its state in --run; the same command resumes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console

from kinema.cli.errors import friendly_errors
from kinema.cli.train import DEVICE, THREADS, run_option

console = Console(stderr=True)
SHIPPED = Path("weights/kinema-tiny")


@friendly_errors
def finetune_command(
    data: Path = typer.Argument(..., help="A folder of videos with captions (NAME.mp4 + NAME.txt), a .csv/.jsonl manifest, or a latent cache from `kinema data cache`."),
    weights: Path = typer.Option(SHIPPED, help="The checkpoint to fine-tune: the shipped weights or any Kinema weights folder."),
    lora_rank: int = typer.Option(8, help="LoRA adapter rank (4-16 is typical). Ignored with --full."),
    lora_alpha: float = typer.Option(0.0, help="LoRA alpha (0: equal to the rank, i.e. scale 1)."),
    full: bool = typer.Option(False, "--full", help="Fine-tune every DiT weight instead of LoRA adapters (writes a complete weights folder)."),
    run: Path = run_option("runs/finetune", "Run folder: cache, checkpoint and log.jsonl; rerun the same command to resume"),
    output: Path = typer.Option(None, "--output", "-o", help="Where the result goes (default: RUN/lora, or RUN/weights with --full)."),
    steps: int = typer.Option(500, help="Optimizer steps."),
    lr: float = typer.Option(None, help="Peak learning rate (default: 5e-4 for LoRA, 5e-5 for --full)."),
    warmup: int = typer.Option(20, help="Linear learning-rate warmup steps."),
    checkpoint_every: int = typer.Option(100, help="Steps between checkpoints and exports."),
    token_budget: int = typer.Option(1152, help="Tokens per step (a 4-second 64x64 clip is 144)."),
    crops: int = typer.Option(4, help="Random temporal crops cached per video when DATA is a video folder."),
    max_frames: int = typer.Option(33, help="Longest training clip, 1 + 4k frames (33 = 4 s at 8 fps)."),
    buckets: str = typer.Option("video", help="Bucket table: video (default), shipped, world-small or world."),
    workers: int = typer.Option(2, help="Processes decoding videos while caching."),
    seed: int = typer.Option(0, help="Seed of crops, batches, noise and adapters."),
    threads: int = THREADS,
    device: str = DEVICE,
    parallel: str = typer.Option("none", help="none (one process) or ddp: under torchrun each process takes a share of every batch (encode the videos first with `kinema data cache`)."),
) -> None:
    """Fine-tune a Kinema checkpoint on your own videos, with LoRA adapters (default) or --full.

    The videos are checked, cropped, resampled to 8 fps, bucketed by aspect ratio and encoded once
    into RUN/cache; training then resumes exactly when the command is run again.

    Examples:

      kinema data check my_videos/

      kinema finetune my_videos/ --steps 500 --run runs/my_lora

      kinema generate "a caption in the style of my videos" --lora runs/my_lora/lora --lora-scale 0.8

      kinema finetune my_videos/ --full --steps 1000 --run runs/my_full && kinema generate "..." --weights runs/my_full/weights

      kinema data cache my_videos/ -o runs/my_cache && torchrun --standalone --nproc-per-node 4 --no-python kinema finetune runs/my_cache --parallel ddp --run-dir runs/my_lora
    """
    import torch

    from kinema.device import pick_device
    from kinema.train.distributed import ParallelConfig, launched_by_torchrun
    from kinema.train.finetune import FinetuneConfig, finetune
    from kinema.train.video_data import VideoDataConfig

    if parallel not in ("none", "ddp"):
        raise ValueError(f"--parallel {parallel!r} is not supported by finetune; use none or ddp")
    if launched_by_torchrun() and parallel == "none":
        raise ValueError("under torchrun, pass --parallel ddp (each process then takes a share of every batch)")
    if threads:
        torch.set_num_threads(threads)
    if not full and lora_rank < 1:
        raise ValueError(f"--lora-rank {lora_rank} must be at least 1 (or use --full)")
    if steps < 1 or checkpoint_every < 1:
        raise ValueError(f"--steps ({steps}) and --checkpoint-every ({checkpoint_every}) must be at least 1")
    if not (weights / "dit.json").is_file():
        raise FileNotFoundError(f"no Kinema checkpoint at {weights} (expected dit.json and dit*.safetensors)")
    video = VideoDataConfig(buckets=buckets, max_frames=max_frames, min_frames=min(9, max_frames), seed=seed)
    video.table()
    config = FinetuneConfig(weights=str(weights), data=str(data), output=str(output) if output else "",
                            lora_rank=0 if full else lora_rank, lora_alpha=lora_alpha, video=video, crops=crops,
                            workers=workers, token_budget=token_budget, seed=seed)
    lr = lr if lr is not None else (5e-5 if full else 5e-4)
    config = replace(config, optim=replace(config.optim, steps=steps, lr=lr, warmup=min(warmup, steps), checkpoint_every=checkpoint_every))
    result = finetune(config, run, progress=True, device=str(pick_device(device)), parallel=ParallelConfig(strategy=parallel))
    kind = "full fine-tune" if full else f"LoRA rank {lora_rank}"
    console.print(f"{kind}: {result['trainable']:,} trainable parameters, {result['clips']} cached clips, step {result['step']}")
    hint = f"--weights {result['output']}" if full else f"--weights {weights} --lora {result['output']} --lora-scale 0.8"
    console.print(f"wrote {result['output']}; try: kinema generate \"<a caption like your videos'>\" {hint}")


def register(app: typer.Typer) -> None:
    app.command("finetune", help="Fine-tune a Kinema checkpoint on your own videos (LoRA or --full).")(finetune_command)
