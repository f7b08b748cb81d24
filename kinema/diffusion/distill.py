"""Few-step sampling by distillation: piecewise reflow of the guided teacher (PeRFlow-style).

Contract. The teacher's guided ODE (`steps_teacher` Euler steps, guidance g) is cut into K windows
at the student's own schedule `timestep_schedule(K, shift)`. For a training example the teacher is
integrated from noise once and its states x_{t_0}, ..., x_{t_K} at the window bounds are kept.
Inside window k the student is taught the straight line between the teacher's two states:

    t = t_k + s (t_{k+1} - t_k),  x_t = x_{t_k} + s (x_{t_{k+1}} - x_{t_k}),  s ~ U[0, 1)
    target velocity v_k = (x_{t_{k+1}} - x_{t_k}) / (t_{k+1} - t_k)

so one Euler step per window (the ordinary sampler, K steps on the same shifted schedule) lands
on the teacher's state at the end of the window, whatever the curvature of the teacher's path
inside it (Yan et al. 2024, "PeRFlow"; Liu et al. 2022 for reflow). The student starts as a copy
of the teacher. It keeps classifier-free guidance at sampling (`student_guidance` = g, its guided
velocity is what is trained: at step 0 it is exactly the teacher's guided Euler solver with K
steps) or bakes it in (`student_guidance` = 1: one unguided pass a step, half the cost, but far
from its initialisation and so slower to learn).

A distilled model is a normal weights folder (`dit.json` + `dit.safetensors`, fp32) whose json
also holds `distill` (`DistilledMeta`); `Pipeline.generate(steps=meta.steps,
guidance=meta.guidance)` with the student samples exactly the trained windows, because the
pipeline's schedule is `timestep_schedule(steps, resolution_shift(tokens))`, the same one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from kinema.diffusion.flow import resolution_shift
from kinema.diffusion.sample import VelocityFn, guided_velocity, sample, timestep_schedule
from kinema.models.dit import DiT, TextContext

METHOD = "piecewise-reflow"


@dataclass(frozen=True)
class DistillConfig:
    steps: int = 4  # student steps = windows
    teacher_steps: int = 20  # the full sampler's steps; a multiple of `steps` so bounds fall on its grid
    teacher_guidance: float = 5.0  # the full sampler's guidance
    student_guidance: float = 5.0  # 5.0: keep CFG (starts at the teacher); 1.0: bake guidance in
    lr: float = 1e-4  # measured: lower rates did not move the student toward the teacher in 300 steps
    batch: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= self.teacher_steps:
            raise ValueError(f"steps {self.steps} must be between 1 and teacher_steps ({self.teacher_steps})")
        if self.teacher_steps % self.steps:
            raise ValueError(f"teacher_steps {self.teacher_steps} must be a multiple of steps {self.steps} "
                             "so that every window bound is a teacher time")
        if self.lr <= 0 or self.batch < 1:
            raise ValueError(f"lr must be > 0 and batch >= 1, got lr={self.lr}, batch={self.batch}")


@dataclass(frozen=True)
class DistilledMeta:
    """What a distilled folder was trained for; `steps` and `guidance` are how to sample it."""

    steps: int
    guidance: float
    teacher_steps: int
    teacher_guidance: float
    train_steps: int
    method: str = METHOD


def teacher_states(velocity: VelocityFn, noise: torch.Tensor, steps: int, teacher_steps: int,
                   shift: float) -> torch.Tensor:
    """The teacher's states at the K + 1 window bounds, (K + 1, B, C, F, H, W); index 0 is the
    noise. Each window is integrated with `teacher_steps / steps` Euler steps of the teacher's own
    schedule, so the last state is exactly the full sampler's output."""
    if teacher_steps % steps:
        raise ValueError(f"teacher_steps {teacher_steps} must be a multiple of steps {steps}")
    schedule = timestep_schedule(teacher_steps, shift)
    per_window = teacher_steps // steps
    states, x = [noise], noise
    for k in range(steps):
        x = sample(velocity, x, schedule[k * per_window : (k + 1) * per_window + 1])
        states.append(x)
    return torch.stack(states)


def window_targets(states: torch.Tensor, bounds: torch.Tensor, window: torch.Tensor,
                   fraction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training inputs inside window `window` (B,) at `fraction` (B,) of the way through it.

    states: (K + 1, B, C, F, H, W) from `teacher_states`; bounds: (K + 1,) decreasing times.
    Returns x_t (B, C, F, H, W), t (B,) and the target velocity (B, C, F, H, W).
    """
    if states.shape[0] != bounds.shape[0]:
        raise ValueError(f"states has {states.shape[0]} bounds, the schedule {bounds.shape[0]}")
    batch = torch.arange(states.shape[1])
    start, end = states[window, batch], states[window + 1, batch]
    t0, t1 = bounds[window], bounds[window + 1]
    s = fraction.view(-1, *([1] * (start.ndim - 1)))
    x_t = start + s * (end - start)
    t = t0 + fraction * (t1 - t0)
    velocity = (end - start) / (t1 - t0).view(-1, *([1] * (start.ndim - 1)))
    return x_t, t, velocity


def repeat_text(text: TextContext, batch: int) -> TextContext:
    """One prompt's text (batch 1) repeated to `batch` (the empty prompt for a batch of prompts)."""
    return TextContext(text.tokens.expand(batch, -1, -1), text.mask.expand(batch, -1), text.pooled.expand(batch, -1))


def distill_loss(student: DiT, text: TextContext, empty: TextContext, guidance: float, x_t: torch.Tensor,
                 t: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the student's (guided) velocity and the window's chord slope."""
    velocity = guided_velocity(student, text, repeat_text(empty, x_t.shape[0]) if empty.tokens.shape[0] == 1 else empty,
                               guidance)
    frames = x_t.shape[2]
    return (velocity(x_t, t[:, None].expand(-1, frames)) - target).pow(2).mean()


def schedule_for(latent_shape: torch.Size | tuple[int, ...], patch: tuple[int, int, int], steps: int) -> torch.Tensor:
    """The pipeline's schedule for a latent grid: `steps` steps shifted for its token count."""
    _, _, f, h, w = latent_shape
    tokens = (f // patch[0]) * (h // patch[1]) * (w // patch[2])
    return timestep_schedule(steps, resolution_shift(tokens))


def save_distilled(folder: Path | str, student: DiT, meta: DistilledMeta) -> Path:
    """Write `dit.json` (config + meta) and `dit.safetensors` (fp32) to `folder`."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().float().contiguous() for k, v in student.state_dict().items()}, folder / "dit.safetensors")
    config = {"dit": {**asdict(student.cfg), "patch": list(student.cfg.patch)}, "distill": asdict(meta)}
    (folder / "dit.json").write_text(json.dumps(config, indent=2))
    return folder


def load_distilled(folder: Path | str) -> tuple[DiT, DistilledMeta]:
    """A distilled student (eval mode) and how to sample it; ValueError if `folder` is not one."""
    from kinema.pipeline import load_dit

    folder = Path(folder)
    path = folder / "dit.json"
    if not path.exists():
        raise ValueError(f"{folder} is not a distilled model folder (no dit.json)")
    raw = json.loads(path.read_text())
    if "distill" not in raw:
        raise ValueError(f"{folder} holds a DiT but not a distilled one (no 'distill' entry in dit.json)")
    return load_dit(folder), DistilledMeta(**raw["distill"])


def with_distilled(pipe: Any, folder: Path | str) -> tuple[Any, int, float]:
    """`pipe` (a `kinema.pipeline.Pipeline`) with its DiT swapped for the distilled student, and
    the steps and guidance to sample it with (its trained windows). An int8 pipeline gets an int8
    student, a packed one (`kinema.models.packed`) a packed student."""
    from kinema.models.int8 import int8_matmuls, is_int8
    from kinema.models.packed import is_packed, pack_linears

    student, meta = load_distilled(folder)
    if student.cfg.latent_channels != pipe.dit.cfg.latent_channels:
        raise ValueError(f"distilled model {folder} has {student.cfg.latent_channels} latent channels, "
                         f"the pipeline's VAE {pipe.dit.cfg.latent_channels}")
    if is_int8(pipe.dit):
        student = int8_matmuls(student)
    elif is_packed(pipe.dit):
        student = pack_linears(student)
    return replace(pipe, dit=student, name=f"{pipe.name}+few-step"), meta.steps, meta.guidance
