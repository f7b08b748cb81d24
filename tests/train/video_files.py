"""Real MP4 files for the video-data tests, written with PyAV: each frame's gray level encodes its
index, so a test can read back which source frames a crop took."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from kinema.video import Video

LEVEL_BASE, LEVEL_STEP = 10, 4  # frame i is gray 10 + 4 i (H.264 at crf 12 keeps it within 1)


def write_indexed(path: Path, frames: int, width: int, height: int, fps: float | Fraction, caption: str | None = "a gray clip") -> Path:
    levels = (LEVEL_BASE + LEVEL_STEP * np.arange(frames)).clip(0, 255).astype(np.uint8)
    pixels = np.broadcast_to(levels[:, None, None, None], (frames, height, width, 3)).copy()
    pixels[:, : height // 8, : width // 8, 0] = 255  # a red corner: not flat, so the encoder works normally
    Video(pixels, float(fps)).write(path)
    if caption is not None:
        path.with_suffix(".txt").write_text(caption)
    return path


def frame_indices(pixels_01: np.ndarray) -> list[int]:
    """Source frame index of each frame of uint8 (T, H, W, 3), from the gray level at the center."""
    t, h, w, _ = pixels_01.shape
    centre = pixels_01[:, h // 2 - 2 : h // 2 + 2, w // 2 - 2 : w // 2 + 2, 1].reshape(t, -1).mean(1)
    return [int(round((v - LEVEL_BASE) / LEVEL_STEP)) for v in centre]


def make_dataset(folder: Path) -> Path:
    """Landscape 24 fps, portrait 12 fps, NTSC 29.97 fps, a too-short clip, a corrupt file, a
    truncated file and a clip without a caption."""
    folder.mkdir(parents=True, exist_ok=True)
    write_indexed(folder / "landscape.mp4", 60, 160, 96, 24, "a wide gray clip")
    write_indexed(folder / "portrait.mp4", 30, 72, 112, 12, "a tall gray clip")
    write_indexed(folder / "sub" / "ntsc.mp4", 40, 64, 64, Fraction(30000, 1001), "a square gray clip")
    write_indexed(folder / "short.mp4", 5, 64, 64, 8, "too short")
    (folder / "corrupt.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    whole = write_indexed(folder / "truncated.mp4", 20, 64, 64, 8, "cut off").read_bytes()
    (folder / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    write_indexed(folder / "uncaptioned.mp4", 20, 64, 64, 8, None)
    return folder
