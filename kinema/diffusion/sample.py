"""Solvers for the rectified-flow ODE, with classifier-free guidance and per-frame conditioning.

Contract: `sample(velocity_fn, noise, ...)` integrates dx/dt = v(x, t) from t = `start` (1 = pure
noise) down to 0 on a shifted schedule and returns the clean latent. Frames marked in `keep`
(B, F) are held at `clean` with t = 0 throughout, so the same loop does text-to-video,
image-to-video, extension, interpolation and loops. Starting below 1 from a noised input is
SDEdit (video-to-video). Deterministic given the noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from kinema.diffusion.branches import BranchPair, branches_pay
from kinema.diffusion.flow import shift_timesteps
from kinema.models.dit import DiT, TextContext

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x (B,C,F,H,W), t (B,F)) -> v
SOLVERS = ("euler", "heun")


@dataclass(frozen=True)
class SamplerConfig:
    steps: int = 20
    guidance: float = 5.0  # classifier-free guidance scale; 1 = no guidance
    solver: str = "euler"
    shift: float | None = None  # None: the resolution shift for the token count
    # Guidance acts only while t (1 = noise) is in this range; outside it one conditional pass.
    guidance_interval: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        check_interval(self.guidance_interval)
        if self.shift is not None and not 0.05 <= self.shift <= 20.0:
            raise ValueError(f"shift {self.shift} is out of range; use 0.05 to 20 (1 = no shift; above 1 spends more steps near noise)")
        if not 1 <= self.steps <= 1000:
            raise ValueError(f"steps {self.steps} is out of range; use 1 to 1000")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver {self.solver!r} is not supported; use one of: {', '.join(SOLVERS)}")
        if not 0.0 <= self.guidance <= 50.0:
            raise ValueError(f"guidance {self.guidance} is out of range; use 0 to 50")


def check_interval(interval: tuple[float, float]) -> tuple[float, float]:
    """A guidance interval (low, high) with 0 <= low < high <= 1, else a ValueError saying so."""
    try:
        low, high = (float(v) for v in interval)
    except (TypeError, ValueError):
        raise ValueError(f"guidance interval {interval!r} must be two numbers LOW,HIGH in [0, 1]") from None
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"guidance interval {low:g},{high:g} must have 0 <= LOW < HIGH <= 1 (t = 1 is pure noise)")
    return low, high


def parse_interval(text: str) -> tuple[float, float]:
    """"LOW,HIGH" (as the CLI takes it) -> a checked guidance interval."""
    parts = text.split(",")
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 2:
        raise ValueError(f"guidance interval {text!r} must be LOW,HIGH, two numbers in [0, 1], e.g. 0.3,1")
    return check_interval(values)  # type: ignore[arg-type]


def timestep_schedule(steps: int, shift: float = 1.0, start: float = 1.0) -> torch.Tensor:
    """Decreasing times start -> 0 (steps + 1 values), spaced uniformly before the shift."""
    t = torch.linspace(1.0, 0.0, steps + 1)
    t = shift_timesteps(t, shift)
    return t * start if start < 1.0 else t


BRANCH_MODES = ("auto", "batch", "threads")


def guided_velocity(model: DiT, text: TextContext, empty: TextContext, guidance: float,
                    branches: str = "auto", interval: tuple[float, float] = (0.0, 1.0)) -> VelocityFn:
    """Velocity with classifier-free guidance: v_uncond + g (v_cond - v_uncond).

    `interval` (low, high): guide only while the call's noise level (its largest per-frame t) is in
    [low, high], and take the conditional velocity alone (one pass) elsewhere, as "Applying
    guidance in a limited interval" (Kynkaanniemi et al. 2024) does.

    Text keys/values are computed once for all steps. `branches` says how the conditional and
    unconditional passes run: "batch" as one batch of 2 (the empty prompt padded to the prompt's
    length and masked), "threads" at the same time on two threads, each pass attending to its own
    text only (`kinema.diffusion.branches`), "auto" threads where that pays (fp32 on a CPU with 2+
    OpenMP threads that sleep when idle, as the CLI sets them; gradients off; no process group:
    `branches_pay`) and batch elsewhere. Both give the same velocity up
    to float rounding.
    """
    if branches not in BRANCH_MODES:
        raise ValueError(f"branches {branches!r} is not supported; use one of: {', '.join(BRANCH_MODES)}")
    low, high = check_interval(interval)
    if guidance == 1.0:
        kv = model.text_kv(text)
        return lambda x, t: model(x, t, text, kv)
    if branches == "threads" or (branches == "auto" and branches_pay(model)):
        guided = _threaded_guidance(model, text, empty, guidance)
    else:
        guided = _batched_guidance(model, text, empty, guidance)
    if (low, high) == (0.0, 1.0):
        return guided
    kv_text = model.text_kv(text)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        level = float(t.max())  # kept (conditioning) frames sit at t = 0; the noisiest frame decides
        inside = low - 1e-6 <= level <= high + 1e-6  # t arrives as float32: 0.8 is 0.80000001
        return guided(x, t) if inside else model(x, t, text, kv_text)

    return velocity


def _batched_guidance(model: DiT, text: TextContext, empty: TextContext, guidance: float) -> VelocityFn:
    """The guided velocity as one batch of 2 (the empty prompt padded to the prompt's length)."""
    both = TextContext(
        torch.cat([text.tokens, _pad_to(empty.tokens, text.tokens.shape[1])]),
        torch.cat([text.mask, _pad_to(empty.mask, text.mask.shape[1])]),
        torch.cat([text.pooled, empty.pooled]),
    )
    kv = model.text_kv(both)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v_cond, v_uncond = model(torch.cat([x, x]), torch.cat([t, t]), both, kv).chunk(2)
        return v_uncond + guidance * (v_cond - v_uncond)

    return velocity


def _threaded_guidance(model: DiT, text: TextContext, empty: TextContext, guidance: float) -> VelocityFn:
    """The guided velocity with its two passes on two threads; gradients on fall back to one thread
    after the other (a training caller, e.g. distillation, must not race on autograd)."""
    text, empty = _own_tokens(text), _own_tokens(empty)
    kv_text, kv_empty = model.text_kv(text), model.text_kv(empty)
    pair = BranchPair()

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        def cond() -> torch.Tensor:
            return model(x, t, text, kv_text)

        def uncond() -> torch.Tensor:
            return model(x, t, empty, kv_empty)

        v_cond, v_uncond = (cond(), uncond()) if torch.is_grad_enabled() else pair(cond, uncond)
        return v_uncond + guidance * (v_cond - v_uncond)

    return velocity


def _own_tokens(text: TextContext) -> TextContext:
    """One prompt's text without its padding (attention to masked keys is attention to fewer keys)."""
    if text.tokens.shape[0] != 1 or bool(text.mask.all()) or not bool(text.mask.any()):
        return text
    keep = text.mask[0]
    return TextContext(text.tokens[:, keep], text.mask[:, keep], text.pooled)


def _pad_to(x: torch.Tensor, length: int) -> torch.Tensor:
    """Pad or repeat the empty prompt's tokens to the batch's text length (padding is masked)."""
    if x.shape[1] >= length:
        return x[:, :length]
    pad = torch.zeros(x.shape[0], length - x.shape[1], *x.shape[2:], dtype=x.dtype, device=x.device)
    return torch.cat([x, pad], dim=1)


@torch.no_grad()
def sample(
    velocity_fn: VelocityFn,
    noise: torch.Tensor,
    schedule: torch.Tensor,
    solver: str = "euler",
    keep: torch.Tensor | None = None,
    clean: torch.Tensor | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Integrate from schedule[0] to schedule[-1].

    noise: the starting point x_{schedule[0]} (pure noise, or a noised input for SDEdit).
    keep (B, F) bool with clean (B, C, F, H, W): frames held fixed as conditioning.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver {solver!r} is not supported; use one of: {', '.join(SOLVERS)}")
    b, _, frames = noise.shape[:3]
    if keep is not None and clean is None:
        raise ValueError("keep needs clean latents to hold")
    frame_mask = None if keep is None else keep[:, None, :, None, None]

    def hold(x: torch.Tensor) -> torch.Tensor:
        return x if frame_mask is None else torch.where(frame_mask, clean, x)

    def times(t: float) -> torch.Tensor:
        per_frame = torch.full((b, frames), float(t), device=noise.device)
        return per_frame if keep is None else per_frame.masked_fill(keep, 0.0)

    x = hold(noise)
    steps = len(schedule) - 1
    for i in range(steps):
        t, t_next = float(schedule[i]), float(schedule[i + 1])
        v = velocity_fn(x, times(t))
        if solver == "heun" and t_next > 0:
            # Heun: average the slope here and at the Euler prediction (2nd order; skip at t=0).
            x_euler = hold(x + (t_next - t) * v)
            v = 0.5 * (v + velocity_fn(x_euler, times(t_next)))
        x = hold(x + (t_next - t) * v)
        if on_step is not None:
            on_step(i + 1, steps)
    return x
