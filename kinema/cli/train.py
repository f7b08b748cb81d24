"""`kinema train`: the VAE, the latent cache and the diffusion transformer.

Every run keeps its full state (weights, EMA, optimizer, step, RNG) in --run; start the same
command again to resume after an interruption. --export writes the shippable EMA weights.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from kinema.cli.errors import friendly_errors

train_app = typer.Typer(no_args_is_help=True)
SHIPPED = Path("weights/kinema-tiny")


@train_app.command("vae")
@friendly_errors
def vae_command(
    run: Path = typer.Option(Path("runs/vae"), help="Run folder: checkpoint and log.jsonl; rerun to resume."),
    steps: int = typer.Option(4000, help="Total optimizer steps."),
    lr: float = typer.Option(5e-4, help="Peak learning rate."),
    export: Path = typer.Option(SHIPPED, help="Write EMA weights (fp16, with latent statistics) here at each checkpoint."),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
    device: str = typer.Option("auto", help="auto (GPU if present), cpu, cuda or cuda:N. GPUs train in bf16, CPUs in fp32."),
) -> None:
    """Train the causal video VAE on world clips. Example: kinema train vae --steps 4000"""
    import torch

    from kinema.train.vae import VAETrainConfig, train_vae

    if threads:
        torch.set_num_threads(threads)
    cfg = VAETrainConfig()
    cfg = replace(cfg, optim=replace(cfg.optim, steps=steps, lr=lr))
    from kinema.train.runner import pick_device

    train_vae(cfg, run, export_to=export, device=str(pick_device(device)))


@train_app.command("cache")
@friendly_errors
def cache_command(
    weights: Path = typer.Option(SHIPPED, help="Folder with the trained VAE (vae.safetensors, vae.json)."),
    output: Path = typer.Option(Path("runs/cache"), "--output", "-o", help="Cache folder (shards are added; rerun to extend)."),
    shards: int = typer.Option(500, help="Total shards (world batches) the cache should hold."),
    distribution: str = typer.Option("full", help="World scene distribution: simple, medium or full."),
    seed: int = typer.Option(1, help="Data seed (different from the VAE's, so the DiT sees fresh clips)."),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
) -> None:
    """Encode world clips and captions once into a latent cache for DiT training."""
    import torch

    from kinema.pipeline import load_vae
    from kinema.text.encoder import default_encoder
    from kinema.train.data import WorldData
    from kinema.train.latents import build_cache

    if threads:
        torch.set_num_threads(threads)
    vae = load_vae(weights)
    data = WorldData(seed=seed, distribution=distribution)
    build_cache(vae, default_encoder(), data, output, shards)


@train_app.command("dit")
@friendly_errors
def dit_command(
    run: Path = typer.Option(Path("runs/dit"), help="Run folder: checkpoint and log.jsonl; rerun to resume."),
    cache: Path = typer.Option(Path("runs/cache"), help="Latent cache built by `kinema train cache`."),
    preset: str = typer.Option("tiny", help="Model size: tiny (CPU), small, base, large."),
    steps: int = typer.Option(50_000, help="Total optimizer steps."),
    lr: float = typer.Option(3e-4, help="Peak learning rate."),
    warmup: int = typer.Option(500, help="Linear learning-rate warmup steps."),
    checkpoint_every: int = typer.Option(250, help="Steps between checkpoints (and weight exports)."),
    export: Path = typer.Option(SHIPPED, help="Write EMA weights here at each checkpoint."),
    eval_every: int = typer.Option(0, help="Every N steps (a multiple of --checkpoint-every), score a KinemaBench subset with the EMA weights into RUN/bench.jsonl (0: off)."),
    vae: Path = typer.Option(SHIPPED, help="The VAE the cache was encoded with (decodes the periodic benchmark's videos)."),
    init: Path = typer.Option(None, help="Start from shipped weights (e.g. weights/kinema-tiny) instead of scratch."),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
    device: str = typer.Option("auto", help="auto (GPU if present), cpu, cuda or cuda:N. GPUs train in bf16, CPUs in fp32."),
) -> None:
    """Train the diffusion transformer on the latent cache. Example: kinema train dit --steps 20000"""
    import torch

    from kinema.models.dit import PRESETS, TextContext
    from kinema.text.encoder import default_encoder
    from kinema.train.checkpoint import load_weights
    from kinema.train.dit import DiTTrainConfig, train_dit

    if preset not in PRESETS:
        raise ValueError(f"preset {preset!r} is not known; use one of: {', '.join(PRESETS)}")
    if threads:
        torch.set_num_threads(threads)
    if eval_every and eval_every % checkpoint_every:
        raise ValueError(f"--eval-every {eval_every} must be a multiple of --checkpoint-every {checkpoint_every}")
    cfg = DiTTrainConfig(model=PRESETS[preset], cache=str(cache), eval_every=eval_every, vae=str(vae))
    cfg = replace(cfg, optim=replace(cfg.optim, steps=steps, lr=lr, warmup=warmup, checkpoint_every=checkpoint_every))
    states = default_encoder().encode([""])
    empty = TextContext(states.tokens, states.mask, states.pooled)
    init_state = load_weights(init, "dit") if init else None
    from kinema.train.runner import pick_device

    train_dit(cfg, run, empty, export_to=export, init_state=init_state, device=str(pick_device(device)))
