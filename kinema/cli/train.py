"""`kinema train`: the VAE, the latent cache and the diffusion transformer.

Every run keeps its full state (weights, EMA, optimizer, step, RNG) in --run; start the same
command again to resume after an interruption. --export writes the shippable EMA weights.
Under torchrun, --parallel ddp|fsdp trains data-parallel (docs/scale.md); the global batch, and so
the loss curve, is the same on any number of processes, and a run resumes on any number of them.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from kinema.cli.errors import friendly_errors

train_app = typer.Typer(no_args_is_help=True)
SHIPPED = Path("weights/kinema-tiny")

PARALLEL_HELP = "none (one process), ddp (replicated weights) or fsdp (sharded weights, gradients, optimizer). Launch with torchrun for more than one process."
# Options every training command shares.
THREADS = typer.Option(0, help="torch threads (0: all cores).")
DEVICE = typer.Option("auto", help="auto (GPU if present), cpu, cuda or cuda:N. GPUs train in bf16, CPUs in fp32.")
PARALLEL = typer.Option("none", help=PARALLEL_HELP)
PRECISION = typer.Option("auto", help="auto (bf16 autocast on GPUs, fp32 on CPUs), bf16 or fp32.")
GRAD_ACCUM = typer.Option(1, help="Split each process's share of the batch into this many pieces (less memory, same result).")
ACTIVATION_CHECKPOINTING = typer.Option(False, "--activation-checkpointing", help="Recompute block activations in backward: less memory, ~30% more compute.")
COMPILE = typer.Option(False, "--compile", help="torch.compile each block (GPUs; the first steps compile).")


def run_option(default: str, what: str = "Run folder: checkpoint and log.jsonl; rerun to resume") -> Any:
    """The --run/--run-dir option (torchrun reads a bare --run as its own --run-path)."""
    return typer.Option(Path(default), "--run", "--run-dir", help=f"{what} (under torchrun spell it --run-dir: torchrun takes --run for its own --run-path).")


def parallel_config(parallel: str, precision: str, grad_accum: int, activation_checkpointing: bool, compile_blocks: bool):  # type: ignore[no-untyped-def]
    from kinema.train.distributed import ParallelConfig

    return ParallelConfig(strategy=parallel, precision=precision, grad_accum=grad_accum,
                          activation_checkpointing=activation_checkpointing, compile=compile_blocks)


@train_app.command("vae")
@friendly_errors
def vae_command(
    run: Path = run_option("runs/vae"),
    steps: int = typer.Option(4000, help="Total optimizer steps."),
    lr: float = typer.Option(5e-4, help="Peak learning rate."),
    export: Path = typer.Option(SHIPPED, help="Write EMA weights (fp16, with latent statistics) here at each checkpoint."),
    init: Path = typer.Option(None, help="Start from trained weights (e.g. weights/kinema-tiny) instead of scratch."),
    decoder_only: bool = typer.Option(False, "--decoder-only", help="Fine-tune the decoder only (needs --init): the latents, and so the DiT and latent caches trained on them, stay valid."),
    threads: int = THREADS,
    device: str = DEVICE,
    parallel: str = PARALLEL,
    precision: str = PRECISION,
    grad_accum: int = GRAD_ACCUM,
    activation_checkpointing: bool = ACTIVATION_CHECKPOINTING,
    compile_blocks: bool = COMPILE,
) -> None:
    """Train the causal video VAE on world clips.

    Examples:

      kinema train vae --steps 4000

      torchrun --standalone --nproc-per-node 8 --no-python kinema train vae --parallel ddp

      kinema train vae --init weights/kinema-tiny --decoder-only --steps 1000 --lr 2e-4 --run runs/vae-decoder --export runs/vae-decoder-export
    """
    import torch

    from kinema.train.vae import VAETrainConfig, train_vae

    spread = parallel_config(parallel, precision, grad_accum, activation_checkpointing, compile_blocks)  # bad options fail first
    if threads:
        torch.set_num_threads(threads)
    from kinema.device import pick_device

    if decoder_only and init is None:
        raise ValueError("--decoder-only fine-tunes trained weights: add --init WEIGHTS (e.g. --init weights/kinema-tiny)")
    cfg = VAETrainConfig(train_encoder=not decoder_only)
    init_state = None
    if init is not None:
        from kinema.pipeline import load_vae

        trained = load_vae(init)  # its architecture and latent statistics, and the weights to start from
        cfg, init_state = replace(cfg, vae=trained.cfg), trained.state_dict()
    cfg = replace(cfg, optim=replace(cfg.optim, steps=steps, lr=lr))
    train_vae(cfg, run, export_to=export, device=str(pick_device(device)), parallel=spread, init_state=init_state)


@train_app.command("cache")
@friendly_errors
def cache_command(
    weights: Path = typer.Option(SHIPPED, help="Folder with the trained VAE (vae.safetensors, vae.json)."),
    output: Path = typer.Option(Path("runs/cache"), "--output", "-o", help="Cache folder (shards are added; rerun to extend)."),
    shards: int = typer.Option(500, help="Total shards (world batches) the cache should hold."),
    distribution: str = typer.Option("full", help="World scene distribution: simple, medium or full."),
    seed: int = typer.Option(1, help="Data seed (different from the VAE's, so the DiT sees fresh clips)."),
    buckets: str = typer.Option("", help="Grids to draw from: empty for the shipped model's few sizes, or a bucket preset (shipped, world-small, world, video: see kinema.train.buckets) to train on many sizes and durations at once."),
    token_budget: int = typer.Option(144 * 16, help="With --buckets: DiT tokens per cached batch (batch = budget // tokens per clip)."),
    threads: int = typer.Option(0, help="torch threads (0: all cores)."),
) -> None:
    """Encode world clips and captions once into a latent cache for DiT training.

    Example (every size and duration of shared/WORLD.md): kinema train cache --buckets world -o runs/cache-world"""
    import torch

    from kinema.pipeline import load_vae
    from kinema.text.encoder import default_encoder
    from kinema.train.data import WorldData
    from kinema.train.latents import build_cache

    if threads:
        torch.set_num_threads(threads)
    vae = load_vae(weights)
    if buckets:
        from kinema.train.buckets import BucketTable

        if token_budget < 1:
            raise ValueError(f"--token-budget {token_budget} must be positive")
        data = WorldData.from_table(BucketTable.preset(buckets), seed=seed, distribution=distribution, token_budget=token_budget)
    else:
        data = WorldData(seed=seed, distribution=distribution)
    build_cache(vae, default_encoder(), data, output, shards)


@train_app.command("dit")
@friendly_errors
def dit_command(
    run: Path = run_option("runs/dit"),
    cache: Path = typer.Option(Path("runs/cache"), help="Latent cache built by `kinema train cache`."),
    preset: str = typer.Option("tiny", help="Model size: tiny (CPU), small, base, large, xl (see docs/scale.md)."),
    steps: int = typer.Option(50_000, help="Total optimizer steps."),
    lr: float = typer.Option(3e-4, help="Peak learning rate."),
    warmup: int = typer.Option(500, help="Linear learning-rate warmup steps."),
    checkpoint_every: int = typer.Option(250, help="Steps between checkpoints (and weight exports)."),
    export: Path = typer.Option(SHIPPED, help="Write EMA weights here at each checkpoint."),
    eval_every: int = typer.Option(0, help="Every N steps (a multiple of --checkpoint-every), score a KinemaBench subset with the EMA weights into RUN/bench.jsonl (0: off)."),
    vae: Path = typer.Option(SHIPPED, help="The VAE the cache was encoded with (decodes the periodic benchmark's videos)."),
    init: Path = typer.Option(None, help="Start from shipped weights (e.g. weights/kinema-tiny) instead of scratch."),
    threads: int = THREADS,
    device: str = DEVICE,
    token_budget: int = typer.Option(144 * 16, help="Latent tokens per global batch (16 four-second 64x64 clips by default); the same for any number of processes."),
    max_batch: int = typer.Option(64, help="At most this many clips per global batch (images are 4x cheaper than 4-second clips); raise with --token-budget."),
    parallel: str = PARALLEL,
    precision: str = PRECISION,
    grad_accum: int = GRAD_ACCUM,
    activation_checkpointing: bool = ACTIVATION_CHECKPOINTING,
    compile_blocks: bool = COMPILE,
) -> None:
    """Train the diffusion transformer on the latent cache.

    Examples:

      kinema train dit --steps 20000

      torchrun --standalone --nproc-per-node 8 --no-python kinema train dit --preset base --parallel fsdp --token-budget 147456

    See docs/scale.md for multi-node and SLURM recipes.
    """
    import torch

    from kinema.models.dit import PRESETS, TextContext
    from kinema.text.encoder import default_encoder
    from kinema.train.checkpoint import load_weights
    from kinema.train.dit import DiTTrainConfig, train_dit

    spread = parallel_config(parallel, precision, grad_accum, activation_checkpointing, compile_blocks)  # bad options fail first
    if preset not in PRESETS:
        raise ValueError(f"preset {preset!r} is not known; use one of: {', '.join(PRESETS)}")
    if threads:
        torch.set_num_threads(threads)
    if eval_every and eval_every % checkpoint_every:
        raise ValueError(f"--eval-every {eval_every} must be a multiple of --checkpoint-every {checkpoint_every}")
    if token_budget < 1 or max_batch < 1:
        raise ValueError(f"--token-budget {token_budget} and --max-batch {max_batch} must be positive")
    cfg = DiTTrainConfig(model=PRESETS[preset], cache=str(cache), eval_every=eval_every, vae=str(vae), token_budget=token_budget,
                         max_batch=max_batch)
    cfg = replace(cfg, optim=replace(cfg.optim, steps=steps, lr=lr, warmup=warmup, checkpoint_every=checkpoint_every))
    states = default_encoder().encode([""])
    empty = TextContext(states.tokens, states.mask, states.pooled)
    init_state = load_weights(init, "dit") if init else None
    from kinema.device import pick_device

    train_dit(cfg, run, empty, export_to=export, init_state=init_state, device=str(pick_device(device)), parallel=spread)
