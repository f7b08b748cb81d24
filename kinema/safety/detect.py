"""Find Kinema's invisible watermark in a file: ``detect_file(path) -> Detection``.

Contract
- Reads any video PyAV can open (.mp4, .mov, .webm, .mkv, ...), a .gif, a still image (.png, .jpg,
  .jpeg, .webp) or a folder of PNG frames, then runs ``kinema.safety.watermark.extract`` on it with
  the given key (default: Kinema's public key) and false-positive rate ``alpha``.
- Long or large videos cost what short small ones do: at most ``watermark.MAX_FRAMES`` frames are
  kept (evenly spread, decimating as decoding goes when the length is unknown), each cut to its
  central ``watermark.MAX_SIDE`` x ``MAX_SIDE`` pixels (the pattern repeats, so any crop holds it).
- A missing path raises FileNotFoundError; a file that cannot be decoded raises ValueError naming it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kinema.safety.watermark import FALSE_POSITIVE_RATE, MAX_FRAMES, MAX_SIDE, PUBLIC_KEY, Detection, Key, extract

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def detect_file(path: str | os.PathLike[str], *, key: Key = PUBLIC_KEY, alpha: float = FALSE_POSITIVE_RATE) -> Detection:
    """The watermark verdict for the video or image at ``path``."""
    return extract(read_frames(path), key, alpha=alpha)


def read_frames(path: str | os.PathLike[str]) -> np.ndarray:
    """uint8 (T, H, W, 3) frames of ``path``, T <= MAX_FRAMES, H and W <= MAX_SIDE (central crop)."""
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no such video or image: {source}")
    suffix = source.suffix.lower()
    if source.is_dir() or suffix == ".gif":
        from kinema.video import read_video

        frames = np.asarray(read_video(source).frames)
        if len(frames) > MAX_FRAMES:
            frames = frames[np.linspace(0, len(frames) - 1, MAX_FRAMES).round().astype(np.int64)]
        return _central(frames)
    if suffix in IMAGE_SUFFIXES:
        return _read_image(source)
    return _read_video(source)


def _read_image(source: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as image:
            return _central(np.asarray(image.convert("RGB"))[None])
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"could not decode {source}: {error}") from None


def _read_video(source: Path) -> np.ndarray:
    import av

    kept: list[np.ndarray] = []
    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                raise ValueError("it has no video stream")
            stream = container.streams.video[0]
            # Known length: a fixed stride. Unknown (0): keep every frame, halving whenever the
            # list doubles past MAX_FRAMES, so memory stays bounded either way.
            stride = max(1, -(-stream.frames // MAX_FRAMES)) if stream.frames else 1
            for index, frame in enumerate(container.decode(stream)):
                if index % stride:
                    continue
                kept.append(_central(frame.to_ndarray(format="rgb24")[None])[0])
                if len(kept) >= 2 * MAX_FRAMES:
                    kept, stride = kept[::2], stride * 2
    except (av.FFmpegError, ValueError) as error:
        raise ValueError(f"could not decode {source}: {error}") from None
    if not kept:
        raise ValueError(f"could not decode {source}: its video stream has no frames")
    if len({frame.shape for frame in kept}) > 1:
        raise ValueError(f"could not decode {source}: its frame size changes mid-stream")
    return np.stack(kept)


def _central(frames: np.ndarray) -> np.ndarray:
    """The central MAX_SIDE x MAX_SIDE (or smaller) part of (T, H, W, 3) frames."""
    height, width = frames.shape[1:3]
    top, left = max(0, (height - MAX_SIDE) // 2), max(0, (width - MAX_SIDE) // 2)
    return np.ascontiguousarray(frames[:, top : top + MAX_SIDE, left : left + MAX_SIDE])
