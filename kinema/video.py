"""Video: uint8 RGB frames plus a frame rate; read and write MP4, GIF and PNG.

Contract
- ``Video.frames`` is a read-only uint8 array T×H×W×3 (RGB, T >= 1); ``Video.fps`` is > 0.
- ``write_video`` / ``read_video`` (and ``Video.write`` / ``Video.read``) choose the format by path:
  ``.mp4``  H.264 through PyAV/libx264. Lossy; settings come from ``MP4_PRESETS``. The fps is stored
            as a fraction (denominator <= 1001), so 8, 12, 24 or 30000/1001 read back exactly.
            Any MP4 (any pixel format, any fps) reads back as RGB.
  ``.gif``  animated GIF through Pillow, one 256-color palette per frame, no dithering. GIF delays
            are whole centiseconds, so frame i starts at round(100 * i / fps) cs (8 fps -> 12, 13,
            12, 13 ...): the average rate stays exact. The fps is also kept in a GIF comment,
            which restores it exactly and re-expands the identical frames that Pillow merges into
            one longer frame. A GIF without that comment gets fps = frames / total delay.
  ``.png``  exactly one frame (lossless); reads back at ``DEFAULT_FPS``.
  a folder  (an existing directory, a path ending in "/", or a path without suffix): lossless
            ``frame_00000.png``, ``frame_00001.png`` ... and ``video.json`` holding the fps. Reading
            takes every ``*.png`` in natural order, fps from ``video.json`` or ``DEFAULT_FPS``.
- Errors: a missing input raises FileNotFoundError naming the path; an unsupported suffix raises
  ValueError listing the allowed ones; a file that cannot be decoded raises ValueError saying which
  file and why (never a bare PyAV or Pillow error).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Union

import av
import numpy as np
from PIL import Image, ImageSequence

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_FPS = 8.0
SUFFIXES = (".mp4", ".gif", ".png")
ALLOWED = ".mp4, .gif, .png, or a folder (an existing directory, a path ending in '/' or no suffix)"
SIDECAR = "video.json"
FRAME_NAME = re.compile(r"frame_(\d{5,})\.png")
# GIF delays under 2 cs are slowed to 10 cs by browsers, so faster rates cannot be shown faithfully.
MAX_GIF_FPS = 50.0
GIF_COMMENT = re.compile(rb"kinema fps=([0-9.eE+-]+)")
# What Pillow raises on damaged files; IndexError because its GIF reader indexes past a cut-off end.
PIL_ERRORS = (OSError, EOFError, SyntaxError, IndexError)


@dataclass(frozen=True, eq=False, repr=False)
class Video:
    """RGB frames (uint8, T×H×W×3, T >= 1) shown at ``fps`` frames per second."""

    frames: np.ndarray
    fps: float = DEFAULT_FPS

    def __post_init__(self) -> None:
        frames = self.frames
        if not isinstance(frames, np.ndarray):
            raise ValueError(f"frames must be a numpy array, got {type(frames).__name__}")
        if frames.dtype != np.uint8:
            raise ValueError(f"frames dtype is {frames.dtype}; only uint8 is allowed")
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames shape is {frames.shape}; expected T x H x W x 3 (RGB)")
        if min(frames.shape) < 1:
            raise ValueError(f"frames shape is {frames.shape}; T, H and W must be >= 1")
        if not isinstance(self.fps, numbers.Real) or not math.isfinite(self.fps) or self.fps <= 0:
            raise ValueError(f"fps is {self.fps!r}; it must be a finite number > 0")
        # A read-only view keeps the frozen promise without copying or touching the caller's array.
        view = frames.view()
        view.flags.writeable = False
        object.__setattr__(self, "frames", view)
        object.__setattr__(self, "fps", float(self.fps))

    def __repr__(self) -> str:
        frames = "1 frame" if self.num_frames == 1 else f"{self.num_frames} frames"
        return f"Video({frames}, {self.size}, {self.fps:g} fps)"

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def duration(self) -> float:
        """Seconds: num_frames / fps."""
        return self.num_frames / self.fps

    @property
    def size(self) -> str:
        """"WxH", e.g. "64x48"."""
        return f"{self.width}x{self.height}"

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` (H×W×3, read-only); negative indices count from the end."""
        if not -self.num_frames <= i < self.num_frames:
            raise IndexError(f"frame index {i} is out of range for {self.num_frames} frames")
        frame: np.ndarray = self.frames[i]
        return frame

    def slice(self, start: int, stop: int | None = None) -> Video:
        """Frames ``start:stop`` (Python slice rules) at the same fps; must not be empty."""
        frames = self.frames[start:stop]
        if len(frames) == 0:
            raise ValueError(f"slice({start}, {stop}) of {self.num_frames} frames is empty")
        return Video(frames, self.fps)

    def concat(self, other: Video) -> Video:
        """This video followed by ``other``; both must have the same size and fps."""
        if other.size != self.size or other.fps != self.fps:
            raise ValueError(
                f"cannot concat {other.size} at {other.fps:g} fps onto {self.size} at "
                f"{self.fps:g} fps; size and fps must match"
            )
        return Video(np.concatenate([self.frames, other.frames]), self.fps)

    def write(self, path: PathLike, *, quality: str = "high") -> None:
        """Write to ``path``; see ``write_video``."""
        write_video(self, path, quality=quality)

    @classmethod
    def read(cls, path: PathLike) -> Video:
        """Read from ``path``; see ``read_video``."""
        return read_video(path)


@dataclass(frozen=True)
class Mp4Settings:
    """How libx264 encodes an MP4."""

    crf: int  # constant rate factor: 0 is lossless in YUV, 51 the worst; +6 about halves the size
    pixel_format: str  # yuv444p keeps full-resolution color, so a 1-2 pixel object keeps its hue
    preset: str = "medium"  # x264 speed/size trade-off; clips are small, so speed hardly matters


MP4_PRESETS: dict[str, Mp4Settings] = {
    "high": Mp4Settings(crf=12, pixel_format="yuv444p"),  # default: small objects keep exact colors
    "max": Mp4Settings(crf=0, pixel_format="yuv444p"),  # only RGB<->YUV rounding is lost
    # Browsers (and many players) decode only 4:2:0 H.264; chroma is halved, sizes must be even.
    "web": Mp4Settings(crf=16, pixel_format="yuv420p"),
}


def write_video(video: Video, path: PathLike, *, quality: str = "high") -> None:
    """Write ``video`` to ``path``, the format chosen by the path (see the module docstring).

    ``quality`` names an entry of ``MP4_PRESETS`` and matters only for MP4; GIF and PNG ignore it.
    Parent folders are created.
    """
    if quality not in MP4_PRESETS:
        raise ValueError(f"quality is {quality!r}; allowed: {', '.join(MP4_PRESETS)}")
    kind = _kind(path, writing=True)
    target = Path(path)
    if kind == "folder":
        _write_folder(video, target)
        return
    if kind == ".png" and video.num_frames > 1:
        raise ValueError(
            f"{target} is a .png, which holds one frame, but the video has {video.num_frames}; "
            "write to a folder (a path ending in '/') or pass video.slice(i, i + 1)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    if kind == ".mp4":
        _write_mp4(video, target, MP4_PRESETS[quality])
    elif kind == ".gif":
        _write_gif(video, target)
    else:
        Image.fromarray(video.frames[0]).save(target, format="PNG")


def read_video(path: PathLike) -> Video:
    """Read the video at ``path`` (an .mp4, .gif or .png file, or a folder of PNG frames)."""
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no such video file or folder: {source}")
    kind = _kind(path, writing=False)
    if kind == "folder":
        return _read_folder(source)
    if kind == ".mp4":
        return _read_mp4(source)
    try:
        with Image.open(source) as image:
            if image.format != kind[1:].upper():
                raise ValueError(f"it holds {image.format} data, not {kind[1:].upper()}")
            if kind == ".gif":
                return _read_gif(image)
            return Video(np.asarray(image.convert("RGB"))[None], DEFAULT_FPS)
    except (*PIL_ERRORS, ValueError) as error:
        raise ValueError(f"could not decode {source}: {error}") from None


def check_output_path(path: PathLike, frames: int = 1) -> None:
    """Fail before expensive work if ``path`` is not a place a video of ``frames`` can be written."""
    if _kind(path, writing=True) == ".png" and frames > 1:
        raise ValueError(f"{os.fspath(path)!r} holds one frame, the video has {frames}; write .mp4, .gif or a folder")


def _kind(path: PathLike, *, writing: bool) -> str:
    """'folder' or one of SUFFIXES for ``path``; ValueError for anything else."""
    text = os.fspath(path)
    target = Path(text)
    # Path("out/") drops the slash, so the caller's intent is read from the raw text.
    wants_folder = text.endswith(("/", os.sep)) or target.suffix == ""
    if target.is_dir() or (writing and wants_folder):
        return "folder"
    suffix = target.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"unsupported video path {text!r} (suffix {suffix!r}); allowed: {ALLOWED}")
    return suffix


def _write_mp4(video: Video, path: Path, settings: Mp4Settings) -> None:
    if settings.pixel_format == "yuv420p" and (video.width % 2 or video.height % 2):
        raise ValueError(f"size {video.size} is odd; yuv420p MP4 needs even width and height")
    # A fraction frame rate makes the container's time base exact: 8 fps reads back as 8, not 7.99.
    rate = Fraction(video.fps).limit_denominator(1001)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = video.width, video.height
        stream.pix_fmt = settings.pixel_format
        # swscale converts RGB with the BT.601 matrix; tag it so decoders (PyAV included) invert it.
        stream.options = {"crf": str(settings.crf), "preset": settings.preset,
                          "x264-params": "colormatrix=smpte170m"}
        for index, rgb in enumerate(video.frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _read_mp4(path: Path) -> Video:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError("it has no video stream")
            stream = container.streams.video[0]
            # to_ndarray converts any pixel format, honoring the frame's color matrix and range.
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    except (av.FFmpegError, ValueError) as error:
        raise ValueError(f"could not decode {path}: {error}") from None
    if not frames:
        raise ValueError(f"could not decode {path}: its video stream has no frames")
    if len({frame.shape for frame in frames}) > 1:
        raise ValueError(f"could not decode {path}: its frame size changes mid-stream")
    fps = float(rate) if rate and rate > 0 else DEFAULT_FPS
    return Video(np.stack(frames), fps)


def _gif_start_cs(index: int, fps: float) -> int:
    """Centisecond at which frame ``index`` starts: rounding the start, not each delay, keeps
    the average rate exact. Rounds half up (Python's round() would round 12.5 to 12)."""
    return math.floor(100 * index / fps + 0.5)


def _write_gif(video: Video, path: Path) -> None:
    if video.fps > MAX_GIF_FPS:
        raise ValueError(f"fps is {video.fps:g}; GIF allows at most {MAX_GIF_FPS:g} (2 cs delays)")
    starts = [_gif_start_cs(i, video.fps) for i in range(video.num_frames + 1)]
    # Pillow takes milliseconds and truncates to centiseconds, so give it whole centiseconds.
    delays_ms = [10 * (end - start) for start, end in zip(starts, starts[1:])]
    # No dithering: flat colors stay flat, and <= 256 colors per frame come through unchanged.
    images = [Image.fromarray(rgb).quantize(256, dither=Image.Dither.NONE) for rgb in video.frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=delays_ms, loop=0, comment=f"kinema fps={video.fps!r}")


def _read_gif(image: Image.Image) -> Video:
    match = GIF_COMMENT.fullmatch(image.info.get("comment", b""))
    frames: list[np.ndarray] = []
    starts: list[int] = []
    clock = 0
    for frame in ImageSequence.Iterator(image):
        frames.append(np.asarray(frame.convert("RGB")))
        starts.append(clock)
        clock += round(frame.info.get("duration", 0) / 10)
    fps = float(match.group(1)) if match else 0.0
    # Trust the comment only for rates Kinema writes; faster ones would overrun the search below.
    if 0 < fps <= MAX_GIF_FPS and clock > 0:
        # Pillow merges identical consecutive frames into one longer frame; the start times of
        # the original frames say which GIF frame each one falls in.
        count = next(i for i in range(clock + 2) if _gif_start_cs(i, fps) >= clock)
        wanted = [_gif_start_cs(i, fps) for i in range(count)]
        indices = np.searchsorted(starts, wanted, side="right") - 1
        return Video(np.stack(frames)[indices], fps)
    fps = 100 * len(frames) / clock if clock > 0 else DEFAULT_FPS
    return Video(np.stack(frames), fps)


def _natural_key(path: Path) -> list[int | str]:
    """Sort key under which frame_2.png comes before frame_10.png."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _write_folder(video: Video, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pngs = [p.name for p in folder.iterdir() if p.suffix.lower() == ".png"]
    ours = {name: match for name in pngs if (match := FRAME_NAME.fullmatch(name))}
    foreign = [name for name in pngs if name not in ours]
    if foreign:
        # Reading takes every PNG in the folder, so these would join the video.
        raise ValueError(f"{folder} holds other PNG files ({', '.join(sorted(foreign)[:3])}); "
                         "write to an empty folder or one holding only frame_NNNNN.png")
    for name, match in ours.items():  # frames of an earlier, longer video written here
        if int(match.group(1)) >= video.num_frames:
            (folder / name).unlink()
    for index, rgb in enumerate(video.frames):
        Image.fromarray(rgb).save(folder / f"frame_{index:05d}.png", format="PNG")
    (folder / SIDECAR).write_text(json.dumps({"fps": video.fps}) + "\n")


def _read_folder(folder: Path) -> Video:
    pngs = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png"), key=_natural_key)
    if not pngs:
        raise ValueError(f"folder {folder} holds no .png frames")
    frames: list[np.ndarray] = []
    for png in pngs:
        try:
            with Image.open(png) as image:
                frames.append(np.asarray(image.convert("RGB")))
        except PIL_ERRORS as error:
            raise ValueError(f"could not decode {png}: {error}") from None
    if len({frame.shape for frame in frames}) > 1:
        raise ValueError(f"frames in {folder} differ in size; all must match")
    fps = DEFAULT_FPS
    sidecar = folder / SIDECAR
    if sidecar.exists():
        try:
            fps = json.loads(sidecar.read_text())["fps"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"could not read fps from {sidecar}: {error!r}") from None
    return Video(np.stack(frames), fps)
