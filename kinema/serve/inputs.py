"""Input media of conditioned jobs: uploaded images and videos, or a completed video by id.

Contract (every problem is an `ApiError` 400 naming the parameter and what is allowed)
- `read_image(data, param, sizes)` -> uint8 (H, W, 3): PNG, JPEG, WebP or GIF (first frame), whose
  size is one of `sizes`. The pixel count is checked before decoding (no decompression bombs).
- `read_video(data, param, sizes, max_frames)` -> (suffix, size, frames) of an uploaded video, read
  from memory: the suffix to store it under comes from its first bytes (.gif, .png, else .mp4 for
  anything PyAV reads: MP4, MOV, WebM, MKV); the size is checked from the stream header before
  decoding, and at most `max_frames` + 1 frames are decoded.
- `link_source(src, dst)`: a completed video's MP4 as the input of a new job: a hard link (no copy)
  where the filesystem allows, so deleting the source later does not take the input away.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np

from kinema.serve.errors import bad_request

MAX_IMAGE_PIXELS = 4096 * 4096


def read_image(data: bytes, param: str, sizes: tuple[str, ...]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise bad_request(f"{param} is {width}x{height}; use an image of one of the sizes {', '.join(sizes)}", param)
            rgb = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise bad_request(f"{param} could not be read as an image (PNG, JPEG, WebP or GIF): {error}", param) from None
    size = f"{rgb.shape[1]}x{rgb.shape[0]}"
    if size not in sizes:
        raise bad_request(f"{param} is {size}; its size must be one the server makes: {', '.join(sizes)}", param)
    return rgb


def read_video(data: bytes, param: str, sizes: tuple[str, ...], max_frames: int) -> tuple[str, str, int]:
    """(file suffix to store it under, size "WxH", frame count) of an uploaded video, from memory."""
    if data[:4] == b"GIF8" or data[:8] == b"\x89PNG\r\n\x1a\n":
        size, count = _count_image_frames(data, param, sizes, max_frames)
        return (".gif" if data[:4] == b"GIF8" else ".png"), size, count
    size, count = _count_av_frames(data, param, sizes, max_frames)
    return ".mp4", size, count  # PyAV reads any container by its content, whatever the suffix


def _count_av_frames(data: bytes, param: str, sizes: tuple[str, ...], max_frames: int) -> tuple[str, int]:
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.video:
                raise bad_request(f"{param} has no video stream; upload an MP4 (or MOV, WebM, GIF)", param)
            stream = container.streams.video[0]
            size = f"{stream.codec_context.width}x{stream.codec_context.height}"
            if size not in sizes:
                raise bad_request(f"{param} is {size}; its size must be one the server makes: {', '.join(sizes)}", param)
            count = 0
            for _ in container.decode(stream):
                count += 1
                if count > max_frames:
                    break
    except (av.FFmpegError, ValueError, IndexError, OSError) as error:
        raise bad_request(f"{param} could not be decoded as a video: {error}", param) from None
    if count == 0:
        raise bad_request(f"{param} has no frames", param)
    if count > max_frames:
        raise bad_request(f"{param} has more than {max_frames} frames; at most {max_frames} here", param)
    return size, count


def _count_image_frames(data: bytes, param: str, sizes: tuple[str, ...], max_frames: int) -> tuple[str, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            size = f"{image.size[0]}x{image.size[1]}"
            if size not in sizes:
                raise bad_request(f"{param} is {size}; its size must be one the server makes: {', '.join(sizes)}", param)
            count = int(getattr(image, "n_frames", 1))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise bad_request(f"{param} could not be decoded: {error}", param) from None
    if count > max_frames:
        raise bad_request(f"{param} has {count} frames; at most {max_frames} here", param)
    return size, count


def link_source(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst
