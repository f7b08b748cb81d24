"""One entry for generation: prompt (and later images/videos) in, `Video` out.

    >>> import kinema
    >>> video = kinema.generate("a large blue square slides to the left", size="96x64", seed=1)
    >>> video.write("square.mp4")

`Pipeline` bundles the frozen text encoder, the video VAE and the diffusion transformer loaded from
a weights folder (default: the shipped `weights/kinema-tiny`). Everything runs in fp32, on the CPU
by default (`device="cuda"` or `"auto"` runs the models on a GPU); noise is drawn on the CPU, so a
seed gives the same video on any device up to floating-point rounding.

Safety is on by default (`kinema.safety.SafetySettings`): the prompt is moderated before any
work, every generated frame is checked before the video is returned, and the frames carry the
invisible watermark. `save(video, path, ...)` writes the file and signs it with C2PA provenance.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kinema import __version__
from kinema.device import pick_device
from kinema.diffusion.flow import resolution_shift
from kinema.diffusion.sample import SamplerConfig, guided_velocity, sample, timestep_schedule
from kinema.models.dit import DiT, TextContext
from kinema.models.packed import pack_linears, packing_available
from kinema.models.weights import load_dit, load_vae  # noqa: F401  (re-exported: kinema.pipeline.load_vae)
from kinema.models.vae import SPATIAL, TEMPORAL, VideoVAE, latent_frames
from kinema.text.encoder import TextEncoder, default_encoder
from kinema.text.prompt import check_prompt
from kinema.pixels import tensor_to_frames
from kinema.safety import SafetySettings, enforce_frames, enforce_prompt
from kinema.video import Video
from kinema.world.scene import DEFAULT_FPS, MAX_FRAMES, validate_canvas

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "kinema-tiny"
DEFAULT_SIZE = "64x64"
DEFAULT_FRAMES = 33


def weights_dir() -> Path:
    return Path(os.environ.get("KINEMA_WEIGHTS", DEFAULT_WEIGHTS))


def parse_size(size: str) -> tuple[int, int]:
    """'WxH' -> (width, height), validated against the sizes Kinema supports."""
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise ValueError(f"size {size!r} is not WIDTHxHEIGHT, e.g. 64x64, 96x64 (landscape), 64x96 (portrait), 112x64 (16:9)") from None
    validate_canvas(width, height, 1)
    return width, height


def check_frames(frames: int) -> None:
    if not 1 <= frames <= MAX_FRAMES or (frames - 1) % TEMPORAL:
        allowed = ", ".join(str(1 + TEMPORAL * k) for k in range((MAX_FRAMES - 1) // TEMPORAL + 1))
        raise ValueError(f"frames {frames} is not supported; use 1 + 4k frames: {allowed} (at 8 fps, 33 frames = 4 s)")


@dataclass
class Pipeline:
    vae: VideoVAE
    dit: DiT
    encoder: TextEncoder
    name: str = "kinema-tiny"

    @property
    def device(self) -> torch.device:
        return next(self.dit.parameters()).device

    def to(self, device: str | torch.device) -> Pipeline:
        """Move the VAE and the transformer to `device` (see `pick_device`); the text encoder stays
        on the CPU (its states are moved per prompt)."""
        chosen = pick_device(device)
        self.vae.to(chosen)
        self.dit.to(chosen)
        return self

    @classmethod
    def from_pretrained(cls, folder: Path | str | None = None, lora: Path | str | None = None, lora_scale: float = 1.0,
                        device: str | torch.device = "cpu", int8: bool = False, packed: bool = True) -> Pipeline:
        """The pipeline of a weights folder; `lora` adds fine-tuned adapters (`kinema finetune`)
        at `lora_scale` (0: the base model, 1: as trained), merged into the weights so that
        generation costs what it costs without them. `device`: cpu (default), cuda, cuda:N or auto.
        `int8`: the transformer's block matmuls in int8 on the CPU (`kinema.models.int8`: 1.1-1.3x
        faster steps, video ~37 dB PSNR from fp32's; docs/performance.md). `packed` (default, fp32 on
        the CPU): the block matmuls on oneDNN with weights packed once and GELU fused
        (`kinema.models.packed`: same results up to fp32 rounding, faster steps)."""
        chosen = pick_device(device)
        if int8 and chosen.type != "cpu":
            raise ValueError(f"int8 sampling runs on the CPU only, not on {chosen}; use --device cpu or drop --int8")
        folder = Path(folder) if folder is not None else weights_dir()
        if not folder.is_dir():
            raise FileNotFoundError(f"no Kinema weights folder at {folder}")
        dit = load_dit(folder)
        name = folder.name
        if lora is not None:
            from kinema.models.lora import load_lora

            if not math.isfinite(lora_scale):
                raise ValueError(f"lora_scale {lora_scale} must be a finite number (0: off, 1: as trained)")
            load_lora(dit, lora, strength=lora_scale, merge=True)
            name = f"{folder.name}+lora:{Path(lora).name}@{lora_scale:g}"
        pipe = cls(load_vae(folder), dit, default_encoder(dit.cfg.word_states), name).to(chosen)
        if int8:
            return pipe.with_int8()
        if packed and chosen.type == "cpu" and packing_available():
            pack_linears(pipe.dit)
        return pipe

    def with_int8(self) -> Pipeline:
        """This pipeline with its transformer's block matmuls in int8 (`kinema.models.int8`; CPU
        only), named `<name>+int8` so that manifests record it."""
        from kinema.models.int8 import int8_matmuls

        return replace(self, dit=int8_matmuls(self.dit), name=f"{self.name}+int8")

    def text(self, prompts: list[str]) -> TextContext:
        states = self.encoder.encode(prompts)
        device = self.device
        return TextContext(states.tokens.to(device), states.mask.to(device), states.pooled.to(device))

    @torch.no_grad()
    def generate(
        self,
        prompt: str,
        size: str = DEFAULT_SIZE,
        frames: int = DEFAULT_FRAMES,
        steps: int = 20,
        guidance: float = 5.0,
        seed: int = 0,
        solver: str = "euler",
        on_step: Callable[[int, int], None] | None = None,
        safety: SafetySettings = SafetySettings(),
        shift: float | None = None,
        guidance_interval: tuple[float, float] = (0.0, 1.0),
    ) -> Video:
        """Raises ValueError for bad options and `kinema.safety.RefusedError` for a refused prompt
        or a withheld video (with the category and reason)."""
        check_prompt(prompt)
        parse_size(size)
        check_frames(frames)
        config = SamplerConfig(steps=steps, guidance=guidance, solver=solver, shift=shift,
                               guidance_interval=tuple(guidance_interval))  # type: ignore[arg-type]
        enforce_prompt(prompt, safety)
        latent = self.sample_latent(self.prompt_states(prompt), size, frames, config, seed, on_step)
        return finish(self.decode_frames(latent), safety)

    # The stages of `generate`, in order (kinema bench times each).

    def prompt_states(self, prompt: str) -> tuple[TextContext, TextContext]:
        """The prompt's and the empty prompt's text states (classifier-free guidance needs both)."""
        return self.text([prompt]), self.text([""])

    @torch.no_grad()
    def sample_latent(self, states: tuple[TextContext, TextContext], size: str, frames: int, config: SamplerConfig,
                      seed: int, on_step: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """Denoise seeded noise into the clip's latent, guided by `states` (see `prompt_states`)."""
        width, height = parse_size(size)
        shape = (1, self.vae.cfg.latent_channels, latent_frames(frames), height // SPATIAL, width // SPATIAL)
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(self.device)  # seeded on the CPU
        tokens = shape[2] * shape[3] * shape[4] // 4
        schedule = timestep_schedule(config.steps, config.shift or resolution_shift(tokens))
        velocity = guided_velocity(self.dit, *states, config.guidance, interval=config.guidance_interval)
        return sample(velocity, noise, schedule, config.solver, on_step=on_step)

    @torch.no_grad()
    def decode_frames(self, latent: torch.Tensor) -> np.ndarray:
        """(F, H, W, 3) uint8 frames of a latent clip."""
        return tensor_to_frames(self.vae.decode(latent)[0])


def finish(frames: np.ndarray, safety: SafetySettings) -> Video:
    """Check generated frames, then watermark them: the last steps before a video leaves Kinema."""
    enforce_frames(frames, safety)
    if safety.watermark:
        from kinema.safety import watermark

        frames = watermark.embed(frames, watermark.kinema_payload(__version__))
    return Video(frames, fps=DEFAULT_FPS)


def save(video: Video, path: Path | str, *, model_name: str = "kinema-tiny", settings: dict[str, Any] | None = None,
         ingredients: list[Path] = (), safety: SafetySettings = SafetySettings(),  # type: ignore[assignment]
         quality: str = "high") -> list[Path]:
    """Write `video` and sign it with a C2PA manifest (every PNG of a frame folder is signed).

    Returns the files written. GIFs are signed too; the manifest records the generation settings,
    the input media as ingredients, and any safety layer that was turned off.
    """
    from kinema.safety.provenance import sign_file

    video.write(path, quality=quality)  # quality: an MP4 preset of kinema.video (high, max, web)
    target = Path(path)
    files = sorted(target.glob("*.png")) if target.is_dir() else [target]
    for file in files:
        sign_file(file, model_name=model_name, model_version=__version__, ingredients=ingredients,
                  settings=settings, disabled_safety=safety.disabled())
    return files


@lru_cache(maxsize=2)
def load_pipeline(folder: str | None = None, lora: str | None = None, lora_scale: float = 1.0, device: str = "cpu",
                  int8: bool = False) -> Pipeline:
    return Pipeline.from_pretrained(folder, lora=lora, lora_scale=lora_scale, device=device, int8=int8)


def generate(prompt: str, *, weights: str | None = None, lora: str | None = None, lora_scale: float = 1.0,
             device: str = "cpu", int8: bool = False, **kwargs) -> Video:  # type: ignore[no-untyped-def]
    """Text to video with the shipped model (or `weights`, plus a `lora` at `lora_scale`) on
    `device` (`int8`: int8 matmuls on the CPU); see `Pipeline.generate` for options."""
    return load_pipeline(weights, None if lora is None else str(lora), lora_scale, str(device), bool(int8)).generate(prompt, **kwargs)
