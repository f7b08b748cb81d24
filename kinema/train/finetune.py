"""Fine-tuning a Kinema checkpoint on your own videos: LoRA adapters or all weights.

Contract: `finetune(config, run_dir)`
1. makes sure the data is a latent cache: a folder (or manifest) of captioned videos is scanned
   and encoded once with the checkpoint's own VAE into `run_dir/cache` (kinema.train.latents,
   `config.crops` random temporal crops per video, resumable); a folder that already is a cache
   (`kinema data cache`) is used as it is;
2. loads the checkpoint's DiT and, for LoRA (`lora_rank` > 0), adds adapters to its attention and
   MLP layers and freezes everything else;
3. trains with the same rectified-flow loss, runner, checkpoints and resume as `kinema train dit`
   (kinema.train.dit.dit_loss, kinema.train.runner.run): rerunning the same command resumes;
4. exports the EMA weights at every checkpoint into `config.output`: `lora.safetensors` +
   `lora.json` for LoRA (load with `kinema generate --lora OUT`), or a complete weights folder
   (the fine-tuned DiT beside the base VAE) for full fine-tuning (`kinema generate --weights OUT`).
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinema.models.dit import TextContext
from kinema.models.lora import DIT_TARGETS, LoRAConfig, add_lora, freeze_base, save_lora
from kinema.train.checkpoint import save_weights
from kinema.train.distributed import ParallelConfig, launched_by_torchrun
from kinema.train.ema import EMA
from kinema.train.latents import LatentCache, build_video_cache
from kinema.train.runner import OptimConfig, run
from kinema.train.video_data import VideoDataConfig


@dataclass(frozen=True)
class FinetuneConfig:
    weights: str = "weights/kinema-tiny"  # any Kinema weights folder (dit.json + dit*.safetensors + the VAE)
    data: str = ""  # a folder or .csv/.jsonl manifest of captioned videos, or a latent cache folder
    output: str = ""  # where the result goes; "" = RUN/lora or RUN/weights
    lora_rank: int = 8  # 0: full fine-tuning of every DiT weight
    lora_alpha: float = 0.0  # 0: equal to the rank (scale 1)
    lora_targets: tuple[str, ...] = DIT_TARGETS
    video: VideoDataConfig = field(default_factory=VideoDataConfig)
    crops: int = 4  # random temporal crops cached per video (variety from few videos)
    workers: int = 2  # decoding processes while caching
    token_budget: int = 144 * 8  # tokens per step: 8 four-second 64x64 clips
    caption_dropout: float = 0.1  # keeps classifier-free guidance working after fine-tuning
    condition_rate: float = 0.3  # keeps image-to-video, extension and interpolation working
    seed: int = 0
    optim: OptimConfig = OptimConfig(steps=500, lr=5e-4, warmup=20, ema_decay=0.99, checkpoint_every=100, log_every=10)

    def __post_init__(self) -> None:
        if self.lora_rank < 0:
            raise ValueError(f"lora_rank {self.lora_rank} must be >= 1 for LoRA, or 0 for full fine-tuning")
        if not self.data:
            raise ValueError("data is required: a folder or manifest of captioned videos, or a latent cache")
        if self.crops < 1:
            raise ValueError(f"crops {self.crops} must be at least 1")

    @property
    def full(self) -> bool:
        return self.lora_rank == 0

    def lora(self) -> LoRAConfig:
        return LoRAConfig(rank=self.lora_rank, alpha=self.lora_alpha or float(self.lora_rank), targets=self.lora_targets)

    def output_dir(self, run_dir: Path) -> Path:
        return Path(self.output) if self.output else Path(run_dir) / ("weights" if self.full else "lora")


def is_latent_cache(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("shard_*.json"))


def prepare_cache(config: FinetuneConfig, run_dir: Path, progress: bool = True) -> Path:
    """The latent cache to train on: `config.data` itself, or `run_dir/cache` encoded from it."""
    from kinema.pipeline import load_vae
    from kinema.text.encoder import default_encoder

    data = Path(config.data)
    if is_latent_cache(data):
        return data
    cache = Path(run_dir) / "cache"
    counts = build_video_cache(load_vae(config.weights), default_encoder(), data, cache, config.video, crops=config.crops,
                               workers=config.workers, progress=progress)
    if not is_latent_cache(cache):
        raise ValueError(f"no usable video in {data} ({counts['clips_skipped']} skipped); run `kinema data check {data}` to see why")
    return cache


def build_model(config: FinetuneConfig) -> tuple[nn.Module, int]:
    """The checkpoint's DiT, with LoRA adapters (base frozen) unless full; and its trainable count."""
    from kinema.pipeline import load_dit

    model = load_dit(config.weights).train()
    if config.full:
        return model, sum(p.numel() for p in model.parameters())
    add_lora(model, config.lora())
    return model, freeze_base(model)


def export(config: FinetuneConfig, run_dir: Path, model: nn.Module, step: int) -> Path:
    """Write the fine-tuned weights (LoRA adapters, or a complete weights folder) to the output."""
    out = config.output_dir(run_dir)
    provenance = {"base": str(Path(config.weights).resolve()), "step": step, "data": str(config.data)}
    if not config.full:
        save_lora(out, model, config.lora(), provenance)
        return out
    save_weights(out, "dit", model, {"dit": {**asdict(model.cfg), "patch": list(model.cfg.patch)}, **provenance})
    base = Path(config.weights)
    if out.resolve() != base.resolve():  # the VAE travels along: the folder is a complete checkpoint
        for file in [*base.glob("vae*.safetensors"), base / "vae.json"]:
            shutil.copy2(file, out / file.name)
    return out


def empty_text(word_states: bool = False) -> TextContext:
    """The empty prompt's text, as a model with or without word states reads it (caption dropout)."""
    from kinema.text.encoder import default_encoder

    states = default_encoder(word_states).encode([""])
    return TextContext(states.tokens, states.mask, states.pooled)


def finetune(config: FinetuneConfig, run_dir: Path, progress: bool = True, device: str = "cpu",
             parallel: ParallelConfig = ParallelConfig()) -> dict[str, Any]:
    """Fine-tune; returns the final step, trainable parameters and output path (see the module
    contract). Under torchrun (`parallel` ddp) every process takes a share of each batch; the
    data must then be a latent cache already (processes must not encode into one folder at once)."""
    from kinema.train.dit import DiTTrainConfig, dit_job

    run_dir = Path(run_dir)
    if launched_by_torchrun() and not is_latent_cache(Path(config.data)):
        raise ValueError(f"under torchrun, fine-tune from a latent cache: encode {config.data} first with "
                         f"`kinema data cache {config.data} -o CACHE` (one process), then pass CACHE")
    cache_dir = prepare_cache(config, run_dir, progress)
    torch.manual_seed(config.seed)
    model, trainable = build_model(config)
    cache = LatentCache(cache_dir, token_budget=config.token_budget, word_states=model.cfg.word_states)
    channels = {key[0] for key in cache.groups}
    if channels != {model.cfg.latent_channels}:
        raise ValueError(f"the latent cache {cache_dir} has {sorted(channels)} latent channels, the model at {config.weights} "
                         f"expects {model.cfg.latent_channels}: encode the videos with this checkpoint's VAE")
    train_cfg = DiTTrainConfig(model=model.cfg, cache=str(cache_dir), seed=config.seed, token_budget=config.token_budget,
                               caption_dropout=config.caption_dropout, condition_rate=config.condition_rate, vae=config.weights,
                               optim=config.optim)
    empty = empty_text(model.cfg.word_states)
    out: dict[str, Any] = {"trainable": trainable, "clips": len(cache), "cache": str(cache_dir)}

    def on_checkpoint(step: int, ema: EMA) -> None:
        out["output"] = str(export(config, run_dir, ema.model, step))

    job = dit_job("finetune" if config.full else "lora", model, cache, train_cfg, empty, {"finetune": _jsonable(config)}, on_checkpoint)
    out["step"] = run(job, config.optim, run_dir, progress=progress, device=device, parallel=parallel)
    if "output" not in out:  # a finished run started again trains nothing; its last export stands
        out["output"] = str(config.output_dir(run_dir))
    return out


def _jsonable(config: FinetuneConfig) -> dict[str, Any]:
    raw = asdict(config)
    raw["lora_targets"] = list(config.lora_targets)
    return raw


def with_steps(config: FinetuneConfig, **optim: Any) -> FinetuneConfig:
    """A copy with optimizer fields replaced (e.g. steps=200, lr=1e-4)."""
    return replace(config, optim=replace(config.optim, **optim))
