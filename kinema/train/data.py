"""Training data: world clips rendered on the fly, bucketed by canvas and duration.

Contract: `world_batch(step, spec)` is a pure function of (seed, step): the same step always gives
the same clips, so a resumed run continues the exact data stream. Each batch has one bucket
(width, height, frames), so tensors stack without resizing or padding; the batch size follows a
pixel budget (or, with `token_budget` > 0, the transformer's token budget, as
kinema.train.buckets.batch_size computes it), so short clips and images come in larger batches
than long ones. `WorldData.from_table(BucketTable.world(), token_budget=2304)` streams every size
and duration of shared/WORLD.md at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from kinema.pixels import frames_to_tensor
from kinema.train.buckets import Bucket, BucketTable, batch_size
from kinema.world.caption import detailed_caption, short_caption
from kinema.world.render import render
from kinema.world.sample import sample_scene
from kinema.world.scene import Scene

# (width, height, frames) buckets; the shipped sizes of shared/WORLD.md plus a smaller one.
DEFAULT_BUCKETS: tuple[tuple[int, int, int], ...] = (
    (64, 64, 1), (64, 64, 9), (64, 64, 17), (64, 64, 33),
    (96, 64, 33), (64, 96, 33), (112, 64, 33), (96, 64, 1), (64, 96, 1), (112, 64, 1),
)


@dataclass(frozen=True)
class WorldData:
    seed: int = 0
    distribution: str = "full"  # a preset of kinema.world.sample.DISTRIBUTIONS
    buckets: tuple[tuple[int, int, int], ...] = DEFAULT_BUCKETS
    bucket_weights: tuple[float, ...] = ()  # empty: uniform
    pixel_budget: int = 64 * 64 * 33 * 8  # pixels per batch (batch = budget // (W*H*T), at least 1)
    max_batch: int = 64
    short_caption_rate: float = 0.2  # train on what people type, not only on detailed captions
    token_budget: int = 0  # > 0: batch = token_budget // DiT tokens per clip (replaces pixel_budget)

    @classmethod
    def from_table(cls, table: BucketTable, **kwargs: Any) -> WorldData:
        """World data over the buckets of a kinema.train.buckets.BucketTable."""
        return cls(buckets=tuple((b.width, b.height, b.frames) for b in table), **kwargs)

    def batch_size(self, width: int, height: int, frames: int) -> int:
        if self.token_budget > 0:
            return batch_size(Bucket(frames, height, width), self.token_budget, self.max_batch)
        return max(1, min(self.max_batch, self.pixel_budget // (width * height * frames)))


@dataclass
class WorldBatch:
    pixels: torch.Tensor  # (B, 3, T, H, W) in [-1, 1]
    captions: list[str]
    scenes: list[Scene] = field(default_factory=list)

    def __len__(self) -> int:
        return self.pixels.shape[0]


def pick_bucket(rng: np.random.Generator, data: WorldData) -> tuple[int, int, int]:
    weights = np.asarray(data.bucket_weights or [1.0] * len(data.buckets), dtype=np.float64)
    if len(weights) != len(data.buckets):
        raise ValueError(f"bucket_weights has {len(weights)} entries for {len(data.buckets)} buckets")
    return data.buckets[int(rng.choice(len(data.buckets), p=weights / weights.sum()))]


def world_batch(step: int, data: WorldData, with_captions: bool = True) -> WorldBatch:
    rng = np.random.default_rng([data.seed, step])
    width, height, frames = pick_bucket(rng, data)
    batch = data.batch_size(width, height, frames)
    clips, captions, scenes = [], [], []
    for _ in range(batch):
        scene = sample_scene(rng, data.distribution, width=width, height=height, frames=frames)
        clips.append(frames_to_tensor(render(scene).frames))
        scenes.append(scene)
        if with_captions:
            short = rng.random() < data.short_caption_rate
            captions.append(short_caption(scene, rng) if short else detailed_caption(scene, rng))
    return WorldBatch(torch.stack(clips), captions, scenes)
