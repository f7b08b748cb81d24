"""Per-frame conditioning: which latent frames are given, and what they hold, for every mode.

Contract. A generation step works on a `Timeline`: T = 1 + 4k pixel frames (T <= 65), some of
them given (user media, earlier output), the rest to be generated. The causal VAE maps pixel
frame 0 alone to latent frame 0 and pixel frames 4j-3..4j to latent frame j (`latent_index`,
`pixel_span`). From the timeline, `conditioning(vae, timeline, ...)` builds a `Conditioning`:

- keep (1, F): latent frames whose every pixel frame is given. They are held clean at t = 0 for
  the whole sampling run (the one mechanism of DESIGN.md the DiT is trained for with random masks).
- anchor (1, F): latent frames that are only partly given (a keyframe inside a 4-frame group,
  every other frame for interpolation) or, for an edit, every frame. They are held clean from
  t = 1 down to `release`, then noised to t = `release` on the same noise and generated from
  there: the layout they fix early stays, the missing frames and fine detail are generated. With
  every frame anchored this is exactly SDEdit at strength `release`.
- clean (1, C, F, h, w): the VAE encoding of the whole timeline, missing frames filled by linear
  blends of their nearest given neighbours (a hold beyond the first or last one). Encoding the
  whole timeline at once keeps each kept latent in its causal context: a clip given at the start
  encodes exactly as it does alone.

`sample_conditioned` runs the sampler over a `Conditioning`; `splice` puts the given pixel
frames back into the decoded result, so given frames come back bit-exact (decoding alone would
only approximate them, and a frame inside a generated 4-frame group is not kept in the latent).
Everything here is pure tensor/array work: no text, no safety, no files (that is kinema.modes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from kinema.diffusion.sample import VelocityFn, sample
from kinema.models.vae import TEMPORAL, VideoVAE, latent_frames
from kinema.pixels import frames_to_tensor
from kinema.world.scene import MAX_FRAMES


def latent_index(pixel_frame: int) -> int:
    """The latent frame holding pixel frame `pixel_frame` (0 -> 0; 4j-3..4j -> j)."""
    if pixel_frame < 0:
        raise ValueError(f"pixel frame {pixel_frame} is negative; frames count from 0")
    return (pixel_frame + TEMPORAL - 1) // TEMPORAL


def pixel_span(latent_frame: int) -> range:
    """The pixel frames latent frame `latent_frame` covers: range(0, 1) for 0, else 4j-3..4j."""
    if latent_frame < 0:
        raise ValueError(f"latent frame {latent_frame} is negative; frames count from 0")
    if latent_frame == 0:
        return range(0, 1)
    return range(TEMPORAL * latent_frame - TEMPORAL + 1, TEMPORAL * latent_frame + 1)


def padding_to_step(given: int, wanted: int) -> int:
    """Extra frames to generate beyond `wanted` so that `given + wanted + extra` is 1 + 4k.

    Modes generate a few frames more and trim them, so users may ask for any frame count."""
    return (1 - given - wanted) % TEMPORAL


@dataclass(frozen=True, eq=False)
class Timeline:
    """One generation step in pixels: `pixels` (T, H, W, 3) uint8 with missing frames filled,
    `given` (T,) bool marking the frames that are real input."""

    pixels: np.ndarray
    given: np.ndarray

    @property
    def frames(self) -> int:
        return int(self.pixels.shape[0])


def timeline(frames: int, height: int, width: int, segments: list[tuple[int, np.ndarray]]) -> Timeline:
    """Place each segment (start pixel frame, uint8 frames (n, H, W, 3)) on a `frames`-long
    timeline; fill the rest by linear blends between the nearest given frames.

    Raises ValueError for a length that is not 1 + 4k up to 65, a segment of another size, one that
    runs off the timeline, or two that overlap."""
    latent_frames(frames)  # 1 + 4k
    if frames > MAX_FRAMES:
        raise ValueError(f"a generation step is at most {MAX_FRAMES} frames, got {frames}; longer videos are made by extension")
    pixels = np.zeros((frames, height, width, 3), dtype=np.float32)
    given = np.zeros(frames, dtype=bool)
    for start, clip in segments:
        clip = np.asarray(clip)
        if clip.ndim != 4 or clip.shape[1:] != (height, width, 3) or clip.dtype != np.uint8:
            raise ValueError(f"given frames {clip.shape} {clip.dtype} do not match the {width}x{height} timeline; expected uint8 (n, {height}, {width}, 3)")
        stop = start + len(clip)
        if start < 0 or stop > frames:
            raise ValueError(f"given frames {start}..{stop - 1} run off the {frames}-frame timeline (0..{frames - 1})")
        if given[start:stop].any():
            raise ValueError(f"given frames {start}..{stop - 1} overlap frames given before")
        pixels[start:stop] = clip
        given[start:stop] = True
    known = np.flatnonzero(given)
    if len(known):
        # Blend each missing frame between its nearest given neighbours (np.interp holds the ends).
        missing = np.flatnonzero(~given)
        for m in missing:
            after = known[np.searchsorted(known, m)] if m < known[-1] else known[-1]
            before = known[np.searchsorted(known, m) - 1] if m > known[0] else known[0]
            w = 0.0 if after == before else (m - before) / (after - before)
            pixels[m] = (1 - w) * pixels[before] + w * pixels[after]
    return Timeline(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), given)


def masks(given: np.ndarray, anchor_partial: bool = False, anchor_all: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(keep, anchor) per latent frame from the per-pixel-frame `given` mask (see module doc).

    anchor_all (edits): every latent frame is anchored and none kept."""
    n = latent_frames(len(given))
    coverage = np.array([given[list(pixel_span(j))].mean() for j in range(n)])
    if anchor_all:
        return np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
    keep = coverage == 1.0
    anchor = (coverage > 0) & ~keep if anchor_partial else np.zeros(n, dtype=bool)
    return keep, anchor


@dataclass(frozen=True, eq=False)
class Conditioning:
    keep: torch.Tensor  # (1, F) bool: held clean for the whole run
    anchor: torch.Tensor  # (1, F) bool: held clean until `release`, then generated
    clean: torch.Tensor  # (1, C, F, h, w) normalised latents of the filled timeline
    release: float = 1.0  # t at which anchors are let go (SDEdit strength)

    def __post_init__(self) -> None:
        if not 0.0 < self.release <= 1.0:
            raise ValueError(f"release (strength) {self.release} is outside (0, 1]; 1 = generate from pure noise")
        if (self.keep & self.anchor).any():
            raise ValueError("a latent frame cannot be both kept and anchored")


@torch.no_grad()
def conditioning(vae: VideoVAE, line: Timeline, *, anchor_partial: bool = False, anchor_all: bool = False,
                 release: float = 1.0) -> Conditioning:
    """Encode `line` and mark kept / anchored latent frames (see module doc)."""
    keep, anchor = masks(line.given, anchor_partial, anchor_all)
    device = vae.latent_mean.device  # everything lives where the models run
    if keep.any() or anchor.any():
        clean = vae.encode(frames_to_tensor(line.pixels)[None].to(device))
    else:  # plain text-to-video: nothing to encode
        h, w = line.pixels.shape[1] // 8, line.pixels.shape[2] // 8
        clean = torch.zeros(1, vae.cfg.latent_channels, len(keep), h, w, device=device)
    return Conditioning(torch.from_numpy(keep)[None].to(device), torch.from_numpy(anchor)[None].to(device), clean, release)


def split_schedule(schedule: torch.Tensor, release: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a decreasing schedule at `release`: (times > release then release, release then the
    times below it). Together they cover the original steps plus the cut point."""
    r = torch.tensor([release], dtype=schedule.dtype)
    head = torch.cat([schedule[schedule > release], r]) if schedule[0] > release else r
    tail = torch.cat([r, schedule[schedule < release]])
    return head, tail


@torch.no_grad()
def sample_conditioned(velocity_fn: VelocityFn, noise: torch.Tensor, cond: Conditioning, schedule: torch.Tensor,
                       solver: str = "euler", on_step: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Sample with kept frames held throughout and anchored frames held until `cond.release`."""
    keep = cond.keep if cond.keep.any() else None
    if not cond.anchor.any():
        return sample(velocity_fn, noise, schedule, solver, keep=keep, clean=cond.clean, on_step=on_step)
    head, tail = split_schedule(schedule, cond.release)
    held = cond.keep | cond.anchor
    run_head = len(head) > 1 and not bool(held.all())  # nothing to generate while all is held
    total = (len(head) - 1 if run_head else 0) + len(tail) - 1
    done = 0

    def step(i: int, _: int) -> None:
        if on_step is not None:
            on_step(done + i, total)

    x = noise
    if run_head:
        x = sample(velocity_fn, noise, head, solver, keep=held, clean=cond.clean, on_step=step)
        done = len(head) - 1
    # Release: anchored frames jump to where the flow puts them at t = release (x_t of SDEdit),
    # on the same noise draw, so a run with every frame anchored is exactly SDEdit.
    r = cond.release
    anchored = cond.anchor[:, None, :, None, None]
    x = torch.where(anchored, (1 - r) * cond.clean + r * noise, x)
    return sample(velocity_fn, x, tail, solver, keep=keep, clean=cond.clean, on_step=step)


def splice(frames: np.ndarray, line: Timeline) -> np.ndarray:
    """`frames` (T, H, W, 3) with every given frame of `line` put back exactly."""
    if frames.shape != line.pixels.shape:
        raise ValueError(f"decoded frames {frames.shape} do not match the timeline {line.pixels.shape}")
    out = frames.copy()
    out[line.given] = line.pixels[line.given]
    return out
