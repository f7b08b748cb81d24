"""Every generation mode as one function on a `Pipeline`: media and text in, `Video` out.

    >>> from kinema.modes import animate, extend
    >>> pipe = kinema.pipeline.load_pipeline()
    >>> clip = animate(pipe, Video.read("ball.png"), "the ball bounces to the right")
    >>> longer = extend(pipe, clip, "the ball bounces to the right", frames=64)

Contract. All modes are the one conditioning mechanism of `kinema.diffusion.condition`: each
builds a `Timeline` of at most 65 pixel frames with the given frames placed on it, samples the
other latent frames, decodes, and splices the given pixel frames back bit-exact (edits excepted:
changing them is the point). Longer results are made step by step, each step conditioned on the
last (or first) `context` latent frames of the video so far, so motion and colors carry over.

- `image`: one frame from text (`Pipeline.generate` with frames=1).
- `animate`: the image is pixel frame 0 (latent frame 0, kept); frames 1.. are generated.
- `extend`: forward appends `frames` frames after the video, conditioned on its last
  1 + 4(context-1) frames; backward prepends them, conditioned on its first 4*context frames.
  The result holds the whole input unchanged. `extend_variants` gives K seeds of it.
- `connect`: the last frames of `a` and the first of `b` on one timeline, `frames` between them
  generated; the result is a + transition + b.
- `interpolate`: input frame i goes to output frame i*factor (fps times factor); groups holding
  a given frame are anchored (see condition), the rest generated. `keyframes`: images at chosen
  frame times, the same way.
- `loop`: a clip (from text, or given) plus a generated bridge from its end back to its start
  (`connect(clip, clip)`), so the last frame leads into the first.
- `edit`: SDEdit: the input's latents noised to t = strength and sampled back with the new
  prompt (strength in (0, 1]; 1 ignores the input).
- `storyboard`: shots one after another, each generated with the previous shot's last latent
  frames as context and its own prompt (the world's captions cut between shots), joined as cuts.

Safety is the pipeline's: every non-empty prompt passes `enforce_prompt` before the model runs,
and the finished frames pass `finish` (frame check + watermark) once, at the end. Bad inputs
raise ValueError naming the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from kinema.diffusion.condition import (Timeline, conditioning, padding_to_step, sample_conditioned, splice,
                                        timeline)
from kinema.diffusion.flow import resolution_shift
from kinema.diffusion.sample import SamplerConfig, VelocityFn, guided_velocity, timestep_schedule
from kinema.models.vae import TEMPORAL
from kinema.pipeline import DEFAULT_FRAMES, Pipeline, check_frames, finish, parse_size
from kinema.pixels import tensor_to_frames
from kinema.safety import SafetySettings, enforce_prompt
from kinema.text.prompt import check_prompt
from kinema.video import Video
from kinema.world.scene import DEFAULT_FPS, MAX_FRAMES, validate_canvas

DEFAULT_CONTEXT = 3  # latent frames of context: 9 pixel frames forward, enough to carry velocity
MAX_CONTEXT = 8
DEFAULT_RELEASE = 0.6  # anchors (keyframes, interpolation) let go at t = 0.6; to tune on the trained model
DIRECTIONS = ("forward", "backward")


@dataclass(frozen=True)
class Sampling:
    """How each generation step samples (the fields of `kinema generate`'s flags)."""

    steps: int = 20
    guidance: float = 5.0
    seed: int = 0
    solver: str = "euler"
    safety: SafetySettings = SafetySettings()
    on_step: Callable[[int, int], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        SamplerConfig(steps=self.steps, guidance=self.guidance, solver=self.solver)  # validates


@dataclass(frozen=True)
class Shot:
    prompt: str
    frames: int = DEFAULT_FRAMES


# --- the one generation step ---------------------------------------------------------------------


class _Step:
    """Text velocity and noise for one mode call: prompts are encoded once, seeds advance per step."""

    def __init__(self, pipe: Pipeline, prompt: str, sampling: Sampling) -> None:
        self.pipe, self.sampling = pipe, sampling
        self.generator = torch.Generator().manual_seed(sampling.seed)
        self.velocity = _velocity(pipe, prompt, sampling.guidance)

    def run(self, line: Timeline, *, anchor_partial: bool = False, anchor_all: bool = False,
            release: float = 1.0, keep_given: bool = True) -> np.ndarray:
        """Generate the missing frames of `line`: uint8 (T, H, W, 3), given frames spliced back."""
        cond = conditioning(self.pipe.vae, line, anchor_partial=anchor_partial, anchor_all=anchor_all, release=release)
        # Drawn on the CPU so a seed gives the same video on any device.
        noise = torch.randn(cond.clean.shape, generator=self.generator).to(cond.clean.device)
        f, h, w = cond.clean.shape[2:]
        cfg = SamplerConfig(self.sampling.steps, self.sampling.guidance, self.sampling.solver)
        schedule = timestep_schedule(cfg.steps, cfg.shift or resolution_shift(f * h * w // 4))
        latent = sample_conditioned(self.velocity, noise, cond, schedule, cfg.solver, self.sampling.on_step)
        frames = tensor_to_frames(self.pipe.vae.decode(latent)[0])
        return splice(frames, line) if keep_given else frames


def _velocity(pipe: Pipeline, prompt: str, guidance: float) -> VelocityFn:
    if not prompt.strip():  # no text: the unconditional branch alone (what CFG would give anyway)
        return guided_velocity(pipe.dit, pipe.text([""]), pipe.text([""]), 1.0)
    return guided_velocity(pipe.dit, pipe.text([prompt]), pipe.text([""]), guidance)


def _check_prompts(prompts: list[str], sampling: Sampling) -> None:
    for prompt in prompts:
        if prompt.strip():
            enforce_prompt(prompt, sampling.safety)


def _done(frames: np.ndarray, sampling: Sampling, fps: float) -> Video:
    video = finish(frames, sampling.safety)
    return Video(video.frames, fps)


def _frames_of(media: Video | np.ndarray, what: str) -> np.ndarray:
    """uint8 (T, H, W, 3) of a Video or an array (one image (H, W, 3) is a 1-frame video)."""
    frames = media.frames if isinstance(media, Video) else np.asarray(media)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8 RGB frames (T, H, W, 3) or an image (H, W, 3), got {frames.shape} {frames.dtype}")
    height, width = frames.shape[1:3]
    try:
        validate_canvas(int(width), int(height), 1)
    except ValueError as error:
        raise ValueError(f"{what} is {width}x{height}: {error}") from None
    return frames


def _same_size(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"{names} differ in size: {a.shape[2]}x{a.shape[1]} and {b.shape[2]}x{b.shape[1]}; use videos of one size")


def _check_context(context: int) -> None:
    if not 1 <= context <= MAX_CONTEXT:
        raise ValueError(f"context {context} is out of range; use 1 to {MAX_CONTEXT} latent frames")


def _check_new(frames: int, what: str = "frames") -> None:
    if frames < 1:
        raise ValueError(f"{what} {frames} must be at least 1")


# --- extension: the building block of long videos ------------------------------------------------


def _forward(step: _Step, video: np.ndarray, new: int, context: int) -> np.ndarray:
    """`video` followed by `new` generated frames, step by step (each step <= 65 frames)."""
    out = video
    while new > 0:
        given = out[-min(len(out), 1 + TEMPORAL * (context - 1)):]  # aligned: `context` kept latents
        n = min(new, MAX_FRAMES - len(given))
        while n > 0 and len(given) + n + padding_to_step(len(given), n) > MAX_FRAMES:
            n -= 1
        if n < 1:
            raise ValueError(f"context of {len(given)} frames leaves no room in a {MAX_FRAMES}-frame step; use a smaller context")
        total = len(given) + n + padding_to_step(len(given), n)
        frames = step.run(timeline(total, out.shape[1], out.shape[2], [(0, given)]))
        out = np.concatenate([out, frames[len(given):len(given) + n]])
        new -= n
    return out


def _backward(step: _Step, video: np.ndarray, new: int, context: int) -> np.ndarray:
    """`new` generated frames followed by `video`, step by step."""
    out = video
    while new > 0:
        given = out[:min(len(out), TEMPORAL * context)]  # 4c frames end-aligned: `context` kept latents
        n = min(new, MAX_FRAMES - len(given))
        while n > 0 and len(given) + n + padding_to_step(len(given), n) > MAX_FRAMES:
            n -= 1
        if n < 1:
            raise ValueError(f"context of {len(given)} frames leaves no room in a {MAX_FRAMES}-frame step; use a smaller context")
        generated = n + padding_to_step(len(given), n)
        frames = step.run(timeline(generated + len(given), out.shape[1], out.shape[2], [(generated, given)]))
        out = np.concatenate([frames[generated - n:generated], out])
        new -= n
    return out


def _bridge(step: _Step, a: np.ndarray, b: np.ndarray, gap: int, context: int) -> np.ndarray:
    """The `gap` generated frames that lead from the end of `a` into the start of `b`."""
    tail = a[-min(len(a), 1 + TEMPORAL * (context - 1)):]
    head_max = min(len(b), TEMPORAL * context)
    # Fewer head frames of b, if needed, make the step 1 + 4k long (b's frames stay given).
    head = head_max - (len(tail) + gap + head_max - 1) % TEMPORAL
    if head < 1:
        head += TEMPORAL
        if head > len(b):
            raise ValueError(f"the second video has {len(b)} frames; connecting needs at least {head}")
    total = len(tail) + gap + head
    if total > MAX_FRAMES:
        raise ValueError(f"a transition of {gap} frames with {context} latent frames of context on each side makes a "
                         f"{total}-frame step; at most {MAX_FRAMES - len(tail) - head} transition frames (or a smaller context)")
    line = timeline(total, a.shape[1], a.shape[2], [(0, tail), (len(tail) + gap, b[:head])])
    return step.run(line)[len(tail):len(tail) + gap]


# --- modes ---------------------------------------------------------------------------------------


def image(pipe: Pipeline, prompt: str, size: str = "64x64", sampling: Sampling = Sampling()) -> Video:
    """One frame from text."""
    s = sampling
    return pipe.generate(prompt, size=size, frames=1, steps=s.steps, guidance=s.guidance, seed=s.seed,
                         solver=s.solver, on_step=s.on_step, safety=s.safety)


def animate(pipe: Pipeline, picture: Video | np.ndarray, prompt: str, frames: int = DEFAULT_FRAMES,
            sampling: Sampling = Sampling(), keep_given: bool = True) -> Video:
    """Image to video: `picture` is frame 0. keep_given=False returns the decoded frame 0 instead
    of the exact image (to measure the model's first-frame fidelity)."""
    first = _frames_of(picture, "the image")
    if len(first) != 1:
        raise ValueError(f"animate takes one image, got {len(first)} frames; use extend for a video")
    check_frames(frames)
    _check_prompts([prompt], sampling)
    step = _Step(pipe, prompt, sampling)
    out = step.run(timeline(frames, first.shape[1], first.shape[2], [(0, first)]), keep_given=keep_given)
    return _done(out, sampling, DEFAULT_FPS)


def extend(pipe: Pipeline, video: Video, prompt: str = "", frames: int = 32, direction: str = "forward",
           context: int = DEFAULT_CONTEXT, sampling: Sampling = Sampling()) -> Video:
    """`video` with `frames` new frames after it (forward) or before it (backward)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r} is not supported; use forward or backward")
    clip = _frames_of(video, "the video")
    _check_new(frames)
    _check_context(context)
    _check_prompts([prompt], sampling)
    step = _Step(pipe, prompt, sampling)
    out = _forward(step, clip, frames, context) if direction == "forward" else _backward(step, clip, frames, context)
    return _done(out, sampling, video.fps)


def extend_variants(pipe: Pipeline, video: Video, variants: int, prompt: str = "", frames: int = 32,
                    direction: str = "backward", context: int = DEFAULT_CONTEXT,
                    sampling: Sampling = Sampling()) -> list[Video]:
    """`variants` extensions with seeds seed, seed+1, ...: different beginnings (backward) that all
    end exactly on `video`, or different continuations (forward)."""
    if not 1 <= variants <= 16:
        raise ValueError(f"variants {variants} is out of range; use 1 to 16")
    return [extend(pipe, video, prompt, frames, direction, context, _with_seed(sampling, sampling.seed + i))
            for i in range(variants)]


def connect(pipe: Pipeline, a: Video, b: Video, prompt: str = "", frames: int = 16,
            context: int = DEFAULT_CONTEXT, sampling: Sampling = Sampling()) -> Video:
    """a, then `frames` generated transition frames, then b."""
    fa, fb = _frames_of(a, "the first video"), _frames_of(b, "the second video")
    _same_size(fa, fb, "the two videos")
    _check_new(frames, "transition frames")
    _check_context(context)
    _check_prompts([prompt], sampling)
    gap = _bridge(_Step(pipe, prompt, sampling), fa, fb, frames, context)
    return _done(np.concatenate([fa, gap, fb]), sampling, a.fps)


def interpolate(pipe: Pipeline, video: Video, factor: int = 2, prompt: str = "",
                release: float = DEFAULT_RELEASE, sampling: Sampling = Sampling()) -> Video:
    """factor - 1 new frames between each pair of frames; the result plays at fps * factor."""
    clip = _frames_of(video, "the video")
    if not 2 <= factor <= 8:
        raise ValueError(f"factor {factor} is out of range; use 2 to 8")
    total = (len(clip) - 1) * factor + 1
    if total > MAX_FRAMES:
        raise ValueError(f"{len(clip)} frames at factor {factor} make {total} frames; one step makes at most "
                         f"{MAX_FRAMES}: use at most {(MAX_FRAMES - 1) // factor + 1} input frames")
    keys = {i * factor: clip[i] for i in range(len(clip))}
    out = _keyed(pipe, keys, total, clip.shape[1:3], prompt, release, sampling)
    return _done(out, sampling, video.fps * factor)


def keyframes(pipe: Pipeline, keys: dict[int, Video | np.ndarray], prompt: str = "", frames: int = DEFAULT_FRAMES,
              release: float = DEFAULT_RELEASE, sampling: Sampling = Sampling()) -> Video:
    """A `frames`-long video passing exactly through each image at its frame time."""
    check_frames(frames)
    if not keys:
        raise ValueError("keyframes needs at least one TIME:IMAGE keyframe")
    images = {t: _frames_of(v, f"keyframe {t}") for t, v in keys.items()}
    first = next(iter(images.values()))
    for t, img in images.items():
        if len(img) != 1:
            raise ValueError(f"keyframe {t} has {len(img)} frames; a keyframe is one image")
        if not 0 <= t < frames:
            raise ValueError(f"keyframe time {t} is outside the video's frames 0..{frames - 1}")
        _same_size(first, img, f"keyframe {t} and the first keyframe")
    out = _keyed(pipe, {t: img[0] for t, img in images.items()}, frames, first.shape[1:3], prompt, release, sampling)
    return _done(out, sampling, DEFAULT_FPS)


def _keyed(pipe: Pipeline, keys: dict[int, np.ndarray], frames: int, hw: tuple[int, int], prompt: str,
           release: float, sampling: Sampling) -> np.ndarray:
    """Frames through `keys` (time -> image): partly given latent frames are anchored."""
    _check_prompts([prompt], sampling)
    total = frames + padding_to_step(0, frames)  # generate to 1 + 4k, then trim
    line = timeline(total, hw[0], hw[1], [(t, img[None]) for t, img in sorted(keys.items())])
    return _Step(pipe, prompt, sampling).run(line, anchor_partial=True, release=release)[:frames]


def loop(pipe: Pipeline, source: str | Video, frames: int = DEFAULT_FRAMES, bridge: int = 16, size: str = "64x64",
         context: int = DEFAULT_CONTEXT, prompt: str = "", sampling: Sampling = Sampling()) -> Video:
    """A seamless loop: `source` (a prompt, generated first at `size` x `frames`, or a video) plus
    `bridge` generated frames leading from its last frame back into its first."""
    _check_new(bridge, "bridge frames")
    _check_context(context)
    if isinstance(source, str):
        check_prompt(source)
        prompt = prompt or source
        width, height = parse_size(size)
        check_frames(frames)
        _check_prompts([prompt], sampling)
        step = _Step(pipe, prompt, sampling)
        clip = step.run(timeline(frames, height, width, []))
        fps = DEFAULT_FPS
    else:
        clip = _frames_of(source, "the video")
        _check_prompts([prompt], sampling)
        step = _Step(pipe, prompt, sampling)
        fps = source.fps
    return _done(np.concatenate([clip, _bridge(step, clip, clip, bridge, context)]), sampling, fps)


def edit(pipe: Pipeline, video: Video, prompt: str, strength: float = 0.6, sampling: Sampling = Sampling()) -> Video:
    """SDEdit: keep the input's layout and motion, change what the prompt changes. Higher strength
    changes more (1 = ignore the input)."""
    clip = _frames_of(video, "the video")
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength {strength} is outside (0, 1]; e.g. 0.6 (small values change little, 1 ignores the input)")
    if not prompt.strip():
        raise ValueError("the prompt is empty; say what the edited video shows, e.g. 'a small green ball bounces to the right'")
    if len(clip) > MAX_FRAMES:
        raise ValueError(f"the video has {len(clip)} frames; edit takes at most {MAX_FRAMES}: trim it first")
    _check_prompts([prompt], sampling)
    total = len(clip) + padding_to_step(0, len(clip))
    line = timeline(total, clip.shape[1], clip.shape[2], [(0, clip)])
    out = _Step(pipe, prompt, sampling).run(line, anchor_all=True, release=strength, keep_given=False)
    return _done(out[:len(clip)], sampling, video.fps)


def storyboard(pipe: Pipeline, shots: list[Shot], size: str = "64x64", context: int = DEFAULT_CONTEXT,
               sampling: Sampling = Sampling()) -> Video:
    """Shots in order; each later shot is generated with the previous frames as context."""
    if not 1 <= len(shots) <= 8:
        raise ValueError(f"a storyboard has 1 to 8 shots, got {len(shots)}")
    width, height = parse_size(size)
    _check_context(context)
    for i, shot in enumerate(shots):
        if not shot.prompt.strip():
            raise ValueError(f"shot {i + 1} has an empty prompt")
        check_frames(shot.frames)
    _check_prompts([s.prompt for s in shots], sampling)
    out: np.ndarray | None = None
    for i, shot in enumerate(shots):
        step = _Step(pipe, shot.prompt, _with_seed(sampling, sampling.seed + i))
        if out is None:
            out = step.run(timeline(shot.frames, height, width, []))
        else:
            out = _forward(step, out, shot.frames, context)
    assert out is not None
    return _done(out, sampling, DEFAULT_FPS)


def _with_seed(sampling: Sampling, seed: int) -> Sampling:
    return Sampling(sampling.steps, sampling.guidance, seed, sampling.solver, sampling.safety, sampling.on_step)

