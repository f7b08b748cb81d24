"""Training on real videos: a folder or a CSV/JSONL manifest of video files with captions.

Contract:
- `find_videos(source)` lists `VideoItem`s (path + caption). A folder is searched recursively for
  video files (`VIDEO_SUFFIXES`); a caption comes from the sidecar `NAME.txt` beside `NAME.mp4`. A
  manifest (`.csv` with a header, or `.jsonl`) names a `path` (or `video`/`file`) and a `caption`
  (or `text`/`prompt`) per row; relative paths are relative to the manifest.
- `scan(source, config)` probes every file with PyAV (decoding it, so a file that breaks
  mid-stream is caught here and not in a training step) and returns the usable clips, each with
  its bucket (`BucketTable.nearest`: aspect ratio, no upscaling, the longest duration it fills at
  the model's frame rate), and the skipped files with the reason: `missing`, `unreadable`,
  `no video stream`, `too short`, `no caption`. Every skip is logged as a warning on the
  "kinema.data" logger and counted in `Scan.skip_counts()`; nothing raises for a bad file.
- `VideoClips` is a torch Dataset decoding clips in DataLoader workers: a random temporal crop of
  the bucket's 1 + 4k frames (a pure function of (seed, epoch, index, crop)), resampled to the model
  frame rate by nearest source frame, resized to cover the bucket and center-cropped. A file that
  fails at decode time becomes a `Skipped` entry that `collate_clips` passes on in the batch, so
  the main process logs and counts it and the run continues.
- `video_loader(...)` puts it together: a DataLoader over a `BucketBatchSampler` (token budget per
  batch, rank/world_size sharding) with `workers` decoding processes.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import torch

from kinema.pixels import frames_to_tensor
from kinema.train.buckets import Bucket, BucketBatchSampler, BucketTable
from kinema.world.scene import DEFAULT_FPS

log = logging.getLogger("kinema.data")

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
PATH_COLUMNS = ("path", "video", "file")
CAPTION_COLUMNS = ("caption", "text", "prompt")
SKIP_REASONS = ("missing", "unreadable", "no video stream", "too short", "no caption")


@dataclass(frozen=True)
class VideoDataConfig:
    fps: float = DEFAULT_FPS  # the model's frame rate: every clip is resampled to it
    buckets: str = "video"  # a preset of kinema.train.buckets.BUCKET_PRESETS
    min_frames: int = 9  # clips with fewer frames at `fps` are skipped as too short
    max_frames: int = 33  # longer sources give random crops of this many frames
    require_caption: bool = True  # without one, a clip would teach the unconditional branch only
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError(f"fps {self.fps} must be > 0")
        if self.min_frames < 1 or self.max_frames < self.min_frames:
            raise ValueError(f"need 1 <= min_frames ({self.min_frames}) <= max_frames ({self.max_frames})")

    def table(self) -> BucketTable:
        table = BucketTable.preset(self.buckets)
        kept = tuple(b for b in table if self.min_frames <= b.frames <= self.max_frames)
        if not kept:
            raise ValueError(f"bucket preset {self.buckets!r} has no duration between min_frames {self.min_frames} "
                             f"and max_frames {self.max_frames}; durations: {', '.join(map(str, table.durations()))}")
        return BucketTable(kept)


@dataclass(frozen=True)
class VideoItem:
    path: Path
    caption: str


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frames: int  # decoded frames

    @property
    def duration(self) -> float:
        return self.frames / self.fps


@dataclass(frozen=True)
class Clip:
    """A usable source video and the bucket it trains in."""

    item: VideoItem
    info: VideoInfo
    bucket: Bucket


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str  # one of SKIP_REASONS
    detail: str = ""

    def message(self) -> str:
        return f"skipping {self.path}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class Scan:
    clips: list[Clip] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def skip_counts(self) -> Counter[str]:
        return Counter(s.reason for s in self.skipped)


# ---------------------------------------------------------------- listing and probing


def find_videos(source: Path | str) -> tuple[list[VideoItem], list[Skipped]]:
    """Items of a folder or manifest, and the entries that cannot even be listed (missing files)."""
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"no dataset at {source}: give a folder of videos or a .csv/.jsonl manifest")
    if source.is_dir():
        paths = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        return [VideoItem(p, _sidecar_caption(p)) for p in paths], []
    rows = _manifest_rows(source)
    items, missing = [], []
    for line, row in rows:
        path_key = next((k for k in PATH_COLUMNS if row.get(k)), None)
        if path_key is None:
            raise ValueError(f"{source} row {line} has no video path; name it in a column {' or '.join(PATH_COLUMNS)}")
        path = Path(str(row[path_key]))
        path = path if path.is_absolute() else source.parent / path
        caption = next((str(row[k]).strip() for k in CAPTION_COLUMNS if row.get(k)), "")
        if not path.is_file():
            missing.append(Skipped(path, "missing", f"listed in {source.name} row {line}"))
            continue
        items.append(VideoItem(path, caption or _sidecar_caption(path)))
    return items, missing


def _sidecar_caption(path: Path) -> str:
    sidecar = path.with_suffix(".txt")
    return sidecar.read_text(encoding="utf-8", errors="replace").strip() if sidecar.is_file() else ""


def _manifest_rows(path: Path) -> list[tuple[int, dict]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = []
        for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path} line {line} is not JSON: {error.msg}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path} line {line} must be a JSON object with a path and a caption")
            rows.append((line, row))
        return rows
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not set(PATH_COLUMNS) & {f.strip().lower() for f in reader.fieldnames}:
                raise ValueError(f"{path} needs a header row with a column {' or '.join(PATH_COLUMNS)} (and caption)")
            return [(i, {k.strip().lower(): v for k, v in row.items() if k}) for i, row in enumerate(reader, start=2)]
    raise ValueError(f"dataset {path} is neither a folder nor a manifest; allowed manifests: .csv, .jsonl")


def _open_error(error: BaseException) -> str:
    # FFmpeg errors carry the path and an errno in str(); the reason alone reads better in a table.
    text = getattr(error, "strerror", None) if isinstance(error, av.FFmpegError) else None
    text = text or str(error) or type(error).__name__
    return text.splitlines()[0][:200]


def probe(path: Path) -> VideoInfo:
    """Size, frame rate and decoded frame count of a video; ValueError when it cannot be read."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise LookupError("no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frames, size = 0, None
            for frame in container.decode(stream):
                size = size or (frame.width, frame.height)
                frames += 1
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    except LookupError:
        raise
    except Exception as error:  # noqa: BLE001 - any decoder failure means "unreadable", never a crash
        raise ValueError(_open_error(error)) from None
    if not frames or size is None:
        raise ValueError("its video stream has no frames")
    fps = float(rate) if rate and rate > 0 else DEFAULT_FPS
    return VideoInfo(size[0], size[1], fps, frames)


def resampled_count(source_frames: int, source_fps: float, fps: float) -> int:
    """How many frames at `fps` a source of `source_frames` at `source_fps` yields."""
    ratio = source_fps / fps
    return max(0, math.ceil((source_frames - 0.5) / ratio))


def source_indices(start: int, frames: int, source_fps: float, fps: float) -> list[int]:
    """Source frame of each of `frames` output frames starting at source frame `start`: the
    nearest source frame to each output time (frames repeat when the source is slower)."""
    ratio = source_fps / fps
    return [start + math.floor(j * ratio + 0.5) for j in range(frames)]


def scan(source: Path | str, config: VideoDataConfig = VideoDataConfig(), progress: bool = False) -> Scan:
    """Probe every video of `source`; see the module contract."""
    items, skipped = find_videos(source)
    table = config.table()
    result = Scan(skipped=list(skipped))
    iterator: Iterable[VideoItem] = items
    if progress and items:
        from rich.progress import track

        iterator = track(items, description="checking videos", transient=True)
    for item in iterator:
        try:
            info = probe(item.path)
        except LookupError:
            result.skipped.append(Skipped(item.path, "no video stream"))
            continue
        except ValueError as error:
            result.skipped.append(Skipped(item.path, "unreadable", str(error)))
            continue
        usable = resampled_count(info.frames, info.fps, config.fps)
        bucket = table.nearest(info.width, info.height, min(usable, config.max_frames))
        if bucket is None:
            detail = f"{info.frames} frames at {info.fps:g} fps = {usable} at {config.fps:g} fps; need {config.min_frames}"
            result.skipped.append(Skipped(item.path, "too short", detail))
            continue
        if config.require_caption and not item.caption:
            result.skipped.append(Skipped(item.path, "no caption", f"add {item.path.with_suffix('.txt').name} or a manifest caption"))
            continue
        result.clips.append(Clip(item, info, bucket))
    for skip in result.skipped:
        log.warning(skip.message())
    return result


# ---------------------------------------------------------------- decoding clips


def crop_start(clip: Clip, fps: float, rng: np.random.Generator) -> int:
    """A random first source frame such that the bucket's frames fit in the source."""
    last = source_indices(0, clip.bucket.frames, clip.info.fps, fps)[-1]
    return int(rng.integers(0, max(0, clip.info.frames - 1 - last) + 1))


def cover_size(width: int, height: int, bucket: Bucket) -> tuple[int, int]:
    """The size that covers the bucket with the source's aspect ratio (then center-cropped)."""
    scale = max(bucket.width / width, bucket.height / height)
    return max(bucket.width, round(width * scale)), max(bucket.height, round(height * scale))


def decode_clip(clip: Clip, start: int, fps: float) -> np.ndarray:
    """uint8 (T, H, W, 3) of the bucket: frames `source_indices(start, ...)`, resized and center-cropped."""
    bucket = clip.bucket
    wanted = source_indices(start, bucket.frames, clip.info.fps, fps)
    needed = set(wanted)
    width, height = cover_size(clip.info.width, clip.info.height, bucket)
    top, left = (height - bucket.height) // 2, (width - bucket.width) // 2
    got: dict[int, np.ndarray] = {}
    with av.open(str(clip.item.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index in needed:
                rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()
                got[index] = rgb[top : top + bucket.height, left : left + bucket.width]
            if index >= wanted[-1]:
                break
    if len(got) != len(needed):
        raise ValueError(f"decoded {len(got)} of the {len(needed)} frames the crop needs")
    return np.stack([got[i] for i in wanted])


@dataclass
class ClipSample:
    pixels: torch.Tensor  # (3, T, H, W) in [-1, 1]
    caption: str
    path: Path
    start: int  # first source frame of the crop


class VideoClips(torch.utils.data.Dataset):
    """Decoded clips of a scan; item (index) or (index, crop) -> ClipSample, or Skipped on failure."""

    def __init__(self, clips: Sequence[Clip], config: VideoDataConfig = VideoDataConfig()) -> None:
        self.clips = list(clips)
        self.config = config
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.clips)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch  # a new random crop each epoch (workers copy the dataset per epoch)

    def start(self, index: int, crop: int = 0) -> int:
        rng = np.random.default_rng([self.config.seed, self.epoch, index, crop])
        return crop_start(self.clips[index], self.config.fps, rng)

    def __getitem__(self, key: int | tuple[int, int]) -> ClipSample | Skipped:
        index, crop = key if isinstance(key, tuple) else (key, 0)
        clip = self.clips[index]
        start = self.start(index, crop)
        try:
            frames = decode_clip(clip, start, self.config.fps)
        except Exception as error:  # noqa: BLE001 - a file that breaks now is skipped, never a crash
            return Skipped(clip.item.path, "unreadable", _open_error(error))
        return ClipSample(frames_to_tensor(frames), clip.item.caption, clip.item.path, start)


@dataclass
class VideoBatch:
    pixels: torch.Tensor | None  # (B, 3, T, H, W) in [-1, 1]; None when every clip failed
    captions: list[str]
    paths: list[Path]
    starts: list[int]
    skipped: list[Skipped]

    def __len__(self) -> int:
        return 0 if self.pixels is None else self.pixels.shape[0]


def collate_clips(samples: list[ClipSample | Skipped]) -> VideoBatch:
    good = [s for s in samples if isinstance(s, ClipSample)]
    return VideoBatch(
        torch.stack([s.pixels for s in good]) if good else None,
        [s.caption for s in good],
        [s.path for s in good],
        [s.start for s in good],
        [s for s in samples if isinstance(s, Skipped)],
    )


class SkipLog:
    """Counts and logs (once per file) the clips skipped while training or caching."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.paths: set[Path] = set()

    def add(self, skipped: Iterable[Skipped]) -> None:
        for skip in skipped:
            self.counts[skip.reason] += 1
            if skip.path not in self.paths:
                self.paths.add(skip.path)
                log.warning(skip.message())


def video_loader(dataset: VideoClips, token_budget: int, *, workers: int = 2, rank: int = 0, world_size: int = 1,
                 epoch: int = 0, max_batch: int = 64, drop_last: bool = False) -> torch.utils.data.DataLoader:
    """One epoch of bucketed batches of `dataset` for `rank`, decoded in `workers` processes."""
    sampler = BucketBatchSampler([c.bucket for c in dataset.clips], token_budget, seed=dataset.config.seed, rank=rank,
                                 world_size=world_size, max_batch=max_batch, drop_last=drop_last)
    sampler.set_epoch(epoch)
    dataset.set_epoch(epoch)
    return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=workers, collate_fn=collate_clips,
                                       persistent_workers=False)
