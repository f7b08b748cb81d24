"""Training the diffusion transformer with rectified flow on cached world latents.

Each step: a batch of one bucket (latent shape), caption dropout (the empty prompt) for
classifier-free guidance, logit-normal timesteps with the resolution shift, and random keep masks
(first frame, first/last frames, both ends, random frames) so that one checkpoint does
text-to-video, image-to-video, extension, interpolation and loops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinema.diffusion.flow import flow_loss, frame_timesteps, noise_latents, resolution_shift, sample_timesteps, with_high_noise
from kinema.models.dit import PRESETS, DiT, DiTConfig, TextContext
from kinema.train.boost import grown_regions
from kinema.train.checkpoint import save_weights
from kinema.train.distributed import ParallelConfig, split_rows
from kinema.train.ema import EMA
from kinema.train.latents import LatentBatch, LatentCache
from kinema.train.runner import Job, OptimConfig, run


@dataclass(frozen=True)
class DiTTrainConfig:
    model: DiTConfig = PRESETS["tiny"]
    cache: str = "runs/cache"
    seed: int = 0
    token_budget: int = 144 * 16  # tokens per batch (16 four-second clips, or 144 images)
    max_batch: int = 64  # clips per batch at most (bounds image batches; raise it with the token budget on many GPUs)
    caption_dropout: float = 0.1
    condition_rate: float = 0.3  # share of multi-frame samples trained with some frames given clean
    # Share of samples whose timestep is drawn uniformly from [high_noise_from, 1], the band where
    # the layout (where an object is) comes from the text alone (kinema.diffusion.flow.with_high_noise).
    high_noise_rate: float = 0.0
    high_noise_from: float = 0.85
    # Share of batches of single images; None: every latent shape in proportion to its clips
    # (kinema.train.latents.pick_shape). `kinema train stream` trains at 0.2.
    image_share: float | None = None
    eval_every: int = 0  # run a KinemaBench subset on the EMA weights every N steps (0: never)
    eval_prompts: int = 8  # how many prompts of the "ci" subset (cost: one generation + scoring each)
    vae: str = "weights/kinema-tiny"  # the VAE that made the cache, to decode for the benchmark
    optim: OptimConfig = OptimConfig(steps=50_000, lr=3e-4, warmup=500, ema_decay=0.999, checkpoint_every=250)


def random_keep_mask(frames: int, batch: int, rate: float, generator: torch.Generator) -> torch.Tensor | None:
    """(B, F) bool: which latent frames are given clean. None when nothing is kept."""
    if frames < 2 or rate <= 0:
        return None
    keep = torch.zeros(batch, frames, dtype=torch.bool)
    for i in range(batch):
        if torch.rand((), generator=generator) >= rate:
            continue
        kind = int(torch.randint(0, 5, (), generator=generator))
        k = int(torch.randint(1, max(2, frames // 2 + 1), (), generator=generator))
        if kind == 0:  # image-to-video
            keep[i, 0] = True
        elif kind == 1:  # extend forward
            keep[i, :k] = True
        elif kind == 2:  # extend backward
            keep[i, -k:] = True
        elif kind == 3:  # connect / loop: context at both ends, as kinema.modes gives it (1..F/3 frames each)
            ends = max(1, frames // 3)
            head = int(torch.randint(1, ends + 1, (), generator=generator))
            tail = int(torch.randint(1, ends + 1, (), generator=generator))
            keep[i, :head] = True
            keep[i, frames - tail:] = True
        else:  # keyframes anywhere
            keep[i] = torch.rand(frames, generator=generator) < 0.3
        if keep[i].all():
            keep[i, -1] = False
    return keep if keep.any() else None


def use_empty_prompt(tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor, drop: torch.Tensor,
                     empty_tokens: torch.Tensor, empty_pooled: torch.Tensor) -> None:
    """Caption dropout, in place: rows `drop` of (tokens (B, L, D), mask (B, L), pooled (B, D)) get
    the empty prompt's states (empty_tokens (n, D), n <= L), as sampling's unconditional branch sees them."""
    n = empty_tokens.shape[0]
    tokens[drop] = 0.0
    mask[drop] = False
    tokens[drop, :n] = empty_tokens
    mask[drop, :n] = True
    pooled[drop] = empty_pooled


def _draw(batch: LatentBatch, cfg: DiTTrainConfig, empty: TextContext, generator: torch.Generator, device: torch.device
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, TextContext, int]:
    """One step's randomness for the whole batch: caption dropout, timesteps, keep masks, noise.
    Returns x0, noise, per-frame timesteps, keep mask, text (on `device`) and the latent frames."""
    x0 = batch.latents.to(device)
    b, _, frames, h, w = x0.shape
    tokens, mask, pooled = batch.tokens, batch.mask, batch.pooled  # moved to the device below
    drop = torch.rand(b, generator=generator) < cfg.caption_dropout
    if drop.any():
        tokens, mask, pooled = tokens.clone(), mask.clone(), pooled.clone()
        use_empty_prompt(tokens, mask, pooled, drop, empty.tokens[0], empty.pooled[0])
    shift = resolution_shift(frames * h * w // 4)
    t = with_high_noise(sample_timesteps(b, shift=shift, generator=generator), cfg.high_noise_rate, cfg.high_noise_from, generator)
    keep = random_keep_mask(frames, b, cfg.condition_rate, generator)
    t_frames = frame_timesteps(t, keep, frames)
    noise = torch.randn(x0.shape, generator=generator).to(device)
    t_frames = t_frames.to(device)
    text = TextContext(tokens.to(device), mask.to(device), pooled.to(device))
    return x0, noise, t_frames, keep, text, frames


def dit_loss(model: nn.Module, batch: LatentBatch, cfg: DiTTrainConfig, empty: TextContext, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
    device = next(model.parameters()).device
    x0, noise, t_frames, keep, text, frames = _draw(batch, cfg, empty, generator, device)
    velocity = model(noise_latents(x0, noise, t_frames), t_frames, text)
    loss = flow_loss(velocity.float(), x0, noise, None if keep is None else keep.to(device))
    return loss, {"frames": frames}


@dataclass
class FlowPiece:
    """Rows `index` of `parts` of one step's batch, with the step's randomness drawn for the whole
    batch (so every split of it sees the same numbers) and the whole batch's loss weight."""

    x0: torch.Tensor  # (b, C, F, h, w)
    noise: torch.Tensor
    t_frames: torch.Tensor  # (b, F)
    text: TextContext
    weight: torch.Tensor  # (b, F): 1 where the frame is generated (counts in the loss), 0 where kept
    total_weight: float  # the sum of `weight` over the whole batch
    frames: int


def dit_piece(batch: LatentBatch, generator: torch.Generator, cfg: DiTTrainConfig, empty: TextContext, index: int, parts: int) -> FlowPiece:
    replay = torch.Generator().set_state(generator.get_state())  # each piece replays the step's draws
    x0, noise, t_frames, keep, text, frames = _draw(batch, cfg, empty, replay, torch.device("cpu"))
    weight = torch.ones(t_frames.shape) if keep is None else (~keep).float()
    rows = split_rows(len(x0), index, parts)
    return FlowPiece(x0[rows], noise[rows], t_frames[rows], TextContext(text.tokens[rows], text.mask[rows], text.pooled[rows]),
                     weight[rows], float(weight.sum().clamp(min=1.0)), frames)


def dit_piece_loss(model: nn.Module, piece: FlowPiece) -> tuple[torch.Tensor, dict[str, float]]:
    """The piece's share of the batch's flow loss: its (sample, frame) errors over the batch's weight."""
    device = next(model.parameters()).device
    x0, noise, t_frames = piece.x0.to(device), piece.noise.to(device), piece.t_frames.to(device)
    text = TextContext(piece.text.tokens.to(device), piece.text.mask.to(device), piece.text.pooled.to(device))
    velocity = model(noise_latents(x0, noise, t_frames), t_frames, text)
    err = (velocity.float() - (noise - x0)).pow(2).mean(dim=(1, 3, 4))  # (b, F), as flow_loss
    return (err * piece.weight.to(device)).sum() / piece.total_weight, {"frames": piece.frames}


def bench_subset(step: int, ema_model: DiT, cfg: DiTTrainConfig, run_dir: Path) -> dict[str, Any]:
    """Generate and score the first `cfg.eval_prompts` prompts of KinemaBench's ci subset with the
    EMA weights (on the CPU, 10 steps, safety layers off: an internal measurement), and append the
    summary to run_dir/bench.jsonl: the learning curve in benchmark scores, not only in loss."""
    import copy
    import json
    import time

    from kinema.eval.bench import run_suite
    from kinema.eval.suite import Suite, load_suite
    from kinema.models.packed import pack_linears, packing_available
    from kinema.pipeline import Pipeline, load_vae
    from kinema.safety import SafetySettings
    from kinema.text.encoder import default_encoder

    dit = copy.deepcopy(ema_model).cpu().eval()
    pipe = Pipeline(load_vae(cfg.vae), pack_linears(dit) if packing_available() else dit, default_encoder(cfg.model.word_states))  # as `kinema generate` samples
    suite = load_suite(subset="ci")
    suite = Suite(suite.name, suite.entries[: cfg.eval_prompts])
    off = SafetySettings.off("prompt", "frames", "watermark")
    results = run_suite(suite, lambda e: pipe.generate(e.prompt, size=e.size, frames=e.frames, steps=10, seed=e.seed, safety=off))
    record = {"step": step, "time": time.time(), "prompts": len(suite.entries), "summary": results["summary"]}
    with (Path(run_dir) / "bench.jsonl").open("a") as log:
        log.write(json.dumps(record) + "\n")
    return record


def dit_job(name: str, model: nn.Module, cache: LatentCache, cfg: DiTTrainConfig, empty: TextContext,
            config: dict[str, Any], on_checkpoint: Callable[[int, EMA], None] | None = None) -> Job:
    """The training job of a DiT on a latent cache (kinema train dit, kinema finetune): batches, the
    flow loss, and the pieces that data parallelism and gradient accumulation split a batch into."""

    def next_batch(step: int) -> tuple[LatentBatch, torch.Generator]:
        # Noise, timesteps and masks from a per-step generator: a resumed run repeats them exactly.
        return cache.batch(step, cfg.seed), torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)

    return Job(
        name=name,
        model=model,
        next_batch=next_batch,
        loss=lambda m, b: dit_piece_loss(m, b) if isinstance(b, FlowPiece) else dit_loss(m, b[0], cfg, empty, b[1]),
        config=config,
        on_checkpoint=on_checkpoint,
        items_per_batch=lambda b: len(b[0]),
        shard=lambda b, index, parts: dit_piece(b[0], b[1], cfg, empty, index, parts),
        blocks=lambda m: m.blocks,
        outside_calls=lambda m: [layer for block in m.blocks for layer in (block.cross.kv, block.cross.k_norm)],  # DiT.text_kv
        grown=grown_regions,
    )


def train_dit(cfg: DiTTrainConfig, run_dir: Path, empty: TextContext, export_to: Path | None = None,
              progress: bool = True, init_state: dict[str, Any] | None = None, device: str = "cpu",
              parallel: ParallelConfig = ParallelConfig()) -> DiT:
    torch.manual_seed(cfg.seed)
    model = DiT(cfg.model)
    cache = LatentCache(Path(cfg.cache), token_budget=cfg.token_budget, max_batch=cfg.max_batch, word_states=cfg.model.word_states,
                        image_share=cfg.image_share)

    def on_checkpoint(step: int, ema: EMA) -> None:
        cache.rescan()  # pick up shards a concurrent `kinema train cache` has written
        if export_to is not None:
            save_weights(Path(export_to), "dit", ema.model, {"dit": asdict(cfg.model), "step": step})
        if cfg.eval_every and step % cfg.eval_every == 0:
            bench_subset(step, ema.model, cfg, run_dir)

    job = dit_job("dit", model, cache, cfg, empty, {"train": asdict(cfg)}, on_checkpoint)
    run(job, cfg.optim, run_dir, progress=progress, init_state=init_state, device=device, parallel=parallel)
    return model
