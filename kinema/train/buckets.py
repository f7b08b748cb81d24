"""Buckets: train on every size, aspect ratio and duration at once, with a token budget per batch.

A bucket is one (frames, height, width) grid. Every clip of a batch shares its bucket, so tensors
stack without padding or attention masks, and the batch size follows the budget: a batch holds
`token_budget // tokens_per_clip` clips (at least 1, at most `max_batch`), so 144-token 4-second
64x64 clips come 16 at a time while 4-token 32x32 images come 64 at a time and the cost of a step
stays about the same.

Contract:
- `BucketTable` is an ordered set of buckets: `BucketTable.world()` spans shared/WORLD.md (widths
  and heights 32..256 in steps of 16, durations 1 + 4k up to 65 frames); `BUCKET_PRESETS` names
  smaller tables. `table.nearest(width, height, frames)` picks the bucket a source video maps to.
- `BucketBatchSampler` (a torch batch sampler over a finite dataset whose items each have a
  bucket) yields lists of item indices, one bucket per batch. Each epoch is a pure function of
  (seed, epoch): every item appears once (times its bucket's weight), batches are shuffled, and
  rank r of `world_size` takes batches r, r + world_size, ... so ranks never share a batch and all
  ranks get the same number of batches (the last ones are padded by wrapping around, or dropped
  with `drop_last`).
- `BucketStream` is the same for endless streams (the procedural world): `stream.at(step, rank)`
  gives the bucket and batch size of a step as a pure function of (seed, step, rank).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from kinema.models.vae import SPATIAL, TEMPORAL
from kinema.world.scene import MAX_FRAMES, WIDTH_RANGE

DEFAULT_PATCH: tuple[int, int, int] = (1, 2, 2)  # the DiT's (frames, rows, cols) of latent per token
SIDE_RANGE = WIDTH_RANGE  # shared/WORLD.md: multiples of 16 from 32 to 256 (heights alike)
SIDE_STEP = 16


@dataclass(frozen=True, order=True)
class Bucket:
    """One training grid: pixel frames (1 + 4k), height and width (multiples of 16)."""

    frames: int
    height: int
    width: int

    def __post_init__(self) -> None:
        if self.frames < 1 or (self.frames - 1) % TEMPORAL or self.frames > MAX_FRAMES:
            raise ValueError(f"bucket frames {self.frames} is not allowed; use 1 + 4k frames up to {MAX_FRAMES}")
        for name, value in (("height", self.height), ("width", self.width)):
            if value % SIDE_STEP or value < SIDE_STEP:
                raise ValueError(f"bucket {name} {value} is not allowed; use a multiple of {SIDE_STEP}")

    @property
    def latent(self) -> tuple[int, int, int]:
        """(latent frames, latent rows, latent cols)."""
        return 1 + (self.frames - 1) // TEMPORAL, self.height // SPATIAL, self.width // SPATIAL

    def tokens(self, patch: tuple[int, int, int] = DEFAULT_PATCH) -> int:
        """Transformer tokens of one clip of this bucket."""
        f, h, w = self.latent
        return math.ceil(f / patch[0]) * (h // patch[1]) * (w // patch[2])

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def name(self) -> str:
        return f"{self.width}x{self.height}x{self.frames}"

    @classmethod
    def parse(cls, text: str) -> Bucket:
        """'WxHxF' (e.g. 96x64x33) -> Bucket."""
        try:
            width, height, frames = (int(v) for v in text.lower().split("x"))
        except ValueError:
            raise ValueError(f"bucket {text!r} is not WIDTHxHEIGHTxFRAMES, e.g. 96x64x33") from None
        return cls(frames, height, width)


def world_durations(max_frames: int = MAX_FRAMES) -> tuple[int, ...]:
    return tuple(range(1, max_frames + 1, TEMPORAL))


def world_sides() -> tuple[int, ...]:
    return tuple(range(SIDE_RANGE[0], SIDE_RANGE[1] + 1, SIDE_STEP))


@dataclass(frozen=True)
class BucketTable:
    buckets: tuple[Bucket, ...]

    def __post_init__(self) -> None:
        if not self.buckets:
            raise ValueError("a bucket table needs at least one bucket")
        object.__setattr__(self, "buckets", tuple(sorted(set(self.buckets))))

    def __len__(self) -> int:
        return len(self.buckets)

    def __iter__(self) -> Iterator[Bucket]:
        return iter(self.buckets)

    @classmethod
    def grid(cls, sizes: Sequence[tuple[int, int]], durations: Sequence[int], max_tokens: int = 0,
             patch: tuple[int, int, int] = DEFAULT_PATCH) -> BucketTable:
        """Every (width, height) with every duration; `max_tokens` > 0 leaves out bigger grids."""
        buckets = [Bucket(f, h, w) for (w, h) in sizes for f in durations]
        if max_tokens > 0:
            buckets = [b for b in buckets if b.tokens(patch) <= max_tokens]
        return cls(tuple(buckets))

    @classmethod
    def world(cls, max_frames: int = MAX_FRAMES, max_tokens: int = 0) -> BucketTable:
        """All sizes and durations of shared/WORLD.md (15 x 15 sizes x 17 durations = 3825 grids)."""
        sides = world_sides()
        return cls.grid([(w, h) for w in sides for h in sides], world_durations(max_frames), max_tokens)

    @classmethod
    def preset(cls, name: str) -> BucketTable:
        if name not in BUCKET_PRESETS:
            raise ValueError(f"bucket preset {name!r} is not known; use one of: {', '.join(BUCKET_PRESETS)}")
        return BUCKET_PRESETS[name]()

    def sizes(self) -> tuple[tuple[int, int], ...]:
        """The distinct (width, height) pairs."""
        return tuple(sorted({(b.width, b.height) for b in self.buckets}))

    def durations(self) -> tuple[int, ...]:
        return tuple(sorted({b.frames for b in self.buckets}))

    def nearest(self, width: int, height: int, frames: int) -> Bucket | None:
        """The bucket a `width` x `height` source with `frames` usable frames maps to, or None when
        it is shorter than every duration.

        Aspect ratio first (least cropping), then the largest size that needs no upscaling (the
        smallest one if all do), then the longest duration the source fills."""
        if width <= 0 or height <= 0:
            raise ValueError(f"source size {width}x{height} must be positive")
        durations = [f for f in self.durations() if f <= frames]
        if not durations:
            return None
        sizes = self.sizes()
        source = math.log(width / height)
        best = min(abs(math.log(w / h) - source) for w, h in sizes)
        shaped = [(w, h) for w, h in sizes if abs(abs(math.log(w / h) - source) - best) < 1e-9]
        fitting = [(w, h) for w, h in shaped if w <= width and h <= height]
        w, h = max(fitting, key=lambda s: s[0] * s[1]) if fitting else min(shaped, key=lambda s: s[0] * s[1])
        available = [b.frames for b in self.buckets if (b.width, b.height) == (w, h) and b.frames <= frames]
        if not available:
            return None
        return Bucket(max(available), h, w)


def _shipped() -> BucketTable:
    # The sizes the embedded model serves (shared/WORLD.md) at the durations it trains on.
    return BucketTable.grid([(64, 64), (96, 64), (64, 96), (112, 64)], (1, 9, 17, 33))


def _video() -> BucketTable:
    # Fine-tuning on people's videos: the four shipped aspect ratios at two scales, 1-4 s.
    sizes = [(64, 64), (96, 64), (64, 96), (112, 64), (128, 128), (192, 128), (128, 192), (224, 128)]
    return BucketTable.grid(sizes, (1, 9, 17, 33))


BUCKET_PRESETS = {
    "shipped": _shipped,
    "video": _video,
    "world": BucketTable.world,
    "world-small": lambda: BucketTable.world(max_frames=33, max_tokens=576),  # CPU-sized share of the world
}


def batch_size(bucket: Bucket, token_budget: int, max_batch: int = 64, patch: tuple[int, int, int] = DEFAULT_PATCH) -> int:
    """Clips of `bucket` in a batch of `token_budget` tokens (at least 1, at most `max_batch`)."""
    if token_budget < 1:
        raise ValueError(f"token_budget {token_budget} must be at least 1")
    if max_batch < 1:
        raise ValueError(f"max_batch {max_batch} must be at least 1")
    return max(1, min(max_batch, token_budget // bucket.tokens(patch)))


class BucketBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of dataset indices, one bucket each, sized by a token budget; shardable by rank.

    `item_buckets[i]` is the bucket of dataset item i. `weights` maps a bucket to a repeat factor
    per epoch (2.0: its items twice; 0.5: a random half); buckets not named weigh 1.0.
    Call `set_epoch(e)` before each epoch (as with DistributedSampler) for a new order."""

    def __init__(self, item_buckets: Sequence[Bucket], token_budget: int, *, seed: int = 0, rank: int = 0,
                 world_size: int = 1, max_batch: int = 64, weights: Mapping[Bucket, float] | None = None,
                 drop_last: bool = False, patch: tuple[int, int, int] = DEFAULT_PATCH) -> None:
        if world_size < 1:
            raise ValueError(f"world_size {world_size} must be at least 1")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} must be in 0..{world_size - 1} for world_size {world_size}")
        if not item_buckets:
            raise ValueError("the dataset is empty: no items to batch")
        for bucket, weight in (weights or {}).items():
            if not weight >= 0:
                raise ValueError(f"weight {weight} of bucket {bucket.name} must be >= 0")
        self.token_budget, self.max_batch, self.patch = token_budget, max_batch, patch
        batch_size(item_buckets[0], token_budget, max_batch, patch)  # validates the budget
        self.seed, self.rank, self.world_size, self.drop_last = seed, rank, world_size, drop_last
        self.weights = dict(weights or {})
        order: dict[Bucket, list[int]] = {}
        for index, bucket in enumerate(item_buckets):
            order.setdefault(bucket, []).append(index)
        self.groups = {b: np.asarray(order[b], dtype=np.int64) for b in sorted(order)}
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batch_size(self, bucket: Bucket) -> int:
        return batch_size(bucket, self.token_budget, self.max_batch, self.patch)

    def global_batches(self, epoch: int) -> list[list[int]]:
        """All ranks' batches of `epoch`, in order (before sharding)."""
        rng = np.random.default_rng([self.seed, epoch])
        batches: list[list[int]] = []
        for bucket, items in self.groups.items():
            weight = self.weights.get(bucket, 1.0)
            repeats, share = int(weight), weight - int(weight)
            parts = [rng.permutation(items) for _ in range(repeats)]
            extra = int(round(share * len(items)))
            if extra:
                parts.append(rng.permutation(items)[:extra])
            if not parts:
                continue
            chosen = np.concatenate(parts)
            size = self.batch_size(bucket)
            for start in range(0, len(chosen), size):
                chunk = chosen[start : start + size]
                if len(chunk) == size or not self.drop_last:
                    batches.append(chunk.tolist())
        return [batches[i] for i in rng.permutation(len(batches))]

    def batches(self, epoch: int | None = None) -> list[list[int]]:
        """This rank's batches of `epoch` (default: the current one)."""
        batches = self.global_batches(self.epoch if epoch is None else epoch)
        if self.world_size > 1 and batches:
            if self.drop_last:
                batches = batches[: len(batches) // self.world_size * self.world_size]
            else:  # pad by wrapping around so every rank takes the same number of steps
                missing = -len(batches) % self.world_size
                batches = batches + [batches[i % len(batches)] for i in range(missing)]
        return batches[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())


@dataclass(frozen=True)
class BucketStream:
    """Buckets and batch sizes for an endless stream: step -> (bucket, batch size), pure in (seed, step, rank).

    Buckets are drawn with probability proportional to `weights` (default: uniform over the table,
    so every grid is visited about equally often)."""

    table: BucketTable
    token_budget: int
    seed: int = 0
    max_batch: int = 64
    weights: tuple[float, ...] = ()
    patch: tuple[int, int, int] = DEFAULT_PATCH

    def __post_init__(self) -> None:
        if self.weights and len(self.weights) != len(self.table):
            raise ValueError(f"weights has {len(self.weights)} entries for {len(self.table)} buckets")
        if self.weights and (min(self.weights) < 0 or sum(self.weights) <= 0):
            raise ValueError("weights must be >= 0 with a positive sum")
        batch_size(self.table.buckets[0], self.token_budget, self.max_batch, self.patch)

    def at(self, step: int, rank: int = 0) -> tuple[Bucket, int, np.random.Generator]:
        """The bucket, batch size and a generator for the clips of `step` on `rank`."""
        rng = np.random.default_rng([self.seed, step, rank])
        p = np.asarray(self.weights or [1.0] * len(self.table), dtype=np.float64)
        bucket = self.table.buckets[int(rng.choice(len(self.table), p=p / p.sum()))]
        return bucket, batch_size(bucket, self.token_budget, self.max_batch, self.patch), rng
