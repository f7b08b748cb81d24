"""Round trips and errors of kinema.video: MP4, GIF, single PNG, PNG folder."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from kinema.video import MP4_PRESETS, Video, read_video, write_video

PALETTE = np.array([(230, 40, 40), (40, 200, 90), (50, 90, 230), (240, 220, 60)], np.uint8)


def shapes_video(num_frames: int = 8, height: int = 48, width: int = 64, fps: float = 8.0) -> Video:
    """Flat palette-colored squares and a disc moving over a dark background."""
    frames = np.full((num_frames, height, width, 3), 16, np.uint8)
    yy, xx = np.mgrid[:height, :width]
    for t in range(num_frames):
        frames[t, 8:20, 4 + t : 16 + t] = PALETTE[0]
        frames[t, 28:36, 40 - t : 48 - t] = PALETTE[1]
        frames[t][(yy - 24) ** 2 + (xx - 32) ** 2 <= 25] = PALETTE[2]
        frames[t, 40:42, 10:12] = PALETTE[3]  # a 2x2 object: the one chroma subsampling would smear
    return Video(frames, fps)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


# --- the Video value ---------------------------------------------------------------------------


def test_properties_slice_concat() -> None:
    video = shapes_video(num_frames=6, fps=12)
    assert (video.num_frames, video.height, video.width, video.size) == (6, 48, 64, "64x48")
    assert video.duration == pytest.approx(0.5)
    assert np.array_equal(video.frame(-1), video.frames[5])
    assert video.slice(2, 4).num_frames == 2
    assert video.concat(video.slice(0, 1)).num_frames == 7
    assert not video.frames.flags.writeable
    assert repr(video) == "Video(6 frames, 64x48, 12 fps)"
    with pytest.raises(IndexError, match="out of range"):
        video.frame(6)
    with pytest.raises(ValueError, match="empty"):
        video.slice(4, 4)
    with pytest.raises(ValueError, match="must match"):
        video.concat(Video(video.frames, fps=8))
    with pytest.raises(ValueError, match="must match"):
        video.concat(shapes_video(height=32, fps=12))


@pytest.mark.parametrize(
    ("frames", "fps", "message"),
    [
        (np.zeros((2, 8, 8, 3), np.float32), 8.0, "uint8"),
        (np.zeros((8, 8, 3), np.uint8), 8.0, "T x H x W x 3"),
        (np.zeros((2, 8, 8, 4), np.uint8), 8.0, "T x H x W x 3"),
        (np.zeros((0, 8, 8, 3), np.uint8), 8.0, ">= 1"),
        (np.zeros((1, 8, 8, 3), np.uint8), 0.0, "fps"),
        (np.zeros((1, 8, 8, 3), np.uint8), float("nan"), "fps"),
        ([[[[0, 0, 0]]]], 8.0, "numpy array"),
    ],
)
def test_invalid_video_is_rejected(frames: object, fps: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Video(frames, fps)  # type: ignore[arg-type]


# --- MP4 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [8, 12, 24, 30000 / 1001])
def test_mp4_round_trip(tmp_path: Path, fps: float) -> None:
    video = shapes_video(fps=fps)
    video.write(tmp_path / "clip.mp4")
    back = Video.read(tmp_path / "clip.mp4")
    assert back.num_frames == video.num_frames and back.size == video.size
    assert back.fps == fps
    assert min(psnr(a, b) for a, b in zip(video.frames, back.frames)) >= 35
    # The 2x2 yellow object keeps its color (4:4:4 chroma).
    assert np.abs(back.frames[0, 40:42, 10:12].astype(int) - PALETTE[3]).max() <= 8


def test_mp4_single_frame_and_web_preset(tmp_path: Path) -> None:
    video = shapes_video(num_frames=1)
    write_video(video, tmp_path / "one.mp4")
    back = read_video(tmp_path / "one.mp4")
    assert back.num_frames == 1 and back.fps == 8.0
    assert psnr(video.frames[0], back.frames[0]) >= 35
    write_video(shapes_video(), tmp_path / "web.mp4", quality="web")
    assert read_video(tmp_path / "web.mp4").num_frames == 8


def test_mp4_bad_quality_and_odd_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allowed: " + ", ".join(MP4_PRESETS)):
        write_video(shapes_video(), tmp_path / "x.mp4", quality="best")
    odd = shapes_video(height=47, width=63)
    with pytest.raises(ValueError, match="even"):
        write_video(odd, tmp_path / "odd.mp4", quality="web")
    odd.write(tmp_path / "odd444.mp4")  # 4:4:4 has no chroma halving, so odd sizes are fine
    assert read_video(tmp_path / "odd444.mp4").size == "63x47"


def test_reads_foreign_yuv420p_mp4_at_25_fps(tmp_path: Path) -> None:
    source = shapes_video(num_frames=5, height=32, width=48)
    path = tmp_path / "foreign.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for index, rgb in enumerate(source.frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    back = read_video(path)
    assert back.num_frames == 5 and back.fps == 25.0 and back.size == "48x32"
    assert psnr(source.frames[2], back.frames[2]) >= 28  # 4:2:0 and default crf 23


# --- GIF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [8, 12, 24])
def test_gif_round_trip(tmp_path: Path, fps: float) -> None:
    video = shapes_video(fps=fps)
    video.write(tmp_path / "clip.gif")
    back = read_video(tmp_path / "clip.gif")
    assert back.num_frames == video.num_frames
    assert back.fps == fps  # restored from the comment
    assert np.abs(back.frames.astype(int) - video.frames).max() <= 4


def test_gif_keeps_identical_frames_and_rounds_delays(tmp_path: Path) -> None:
    from PIL import Image

    still = Video(np.repeat(shapes_video().frames[:1], 5, axis=0), fps=8)
    still.write(tmp_path / "still.gif")
    with Image.open(tmp_path / "still.gif") as image:
        assert getattr(image, "n_frames") == 1  # Pillow merged the 5 identical frames ...
        assert image.info["duration"] == 630  # ... into 0.625 s, rounded to centiseconds
    back = read_video(tmp_path / "still.gif")
    assert back.num_frames == 5 and back.fps == 8.0  # ... and reading splits them again
    with pytest.raises(ValueError, match="at most 50"):
        Video(still.frames, fps=60).write(tmp_path / "fast.gif")


def test_gif_without_comment_gets_fps_from_delays(tmp_path: Path) -> None:
    from PIL import Image

    images = [Image.fromarray(rgb) for rgb in shapes_video(num_frames=4).frames]
    images[0].save(tmp_path / "plain.gif", save_all=True, append_images=images[1:], duration=100)
    back = read_video(tmp_path / "plain.gif")
    assert back.num_frames == 4 and back.fps == pytest.approx(10.0)


# --- PNG ---------------------------------------------------------------------------------------


def test_png_single_frame_is_exact(tmp_path: Path) -> None:
    video = shapes_video(num_frames=1)
    video.write(tmp_path / "still.png")
    back = read_video(tmp_path / "still.png")
    assert np.array_equal(back.frames, video.frames) and back.fps == 8.0
    with pytest.raises(ValueError, match="one frame.*folder"):
        shapes_video(num_frames=3).write(tmp_path / "many.png")


def test_png_folder_is_exact_with_fps_sidecar(tmp_path: Path) -> None:
    video = shapes_video(num_frames=12, fps=12)
    write_video(video, str(tmp_path / "frames") + "/")
    assert sorted(p.name for p in (tmp_path / "frames").iterdir())[:2] == [
        "frame_00000.png",
        "frame_00001.png",
    ]
    back = read_video(tmp_path / "frames")
    assert np.array_equal(back.frames, video.frames) and back.fps == 12.0
    # Rewriting a shorter video removes the stale frames; no sidecar means the default fps.
    write_video(video.slice(0, 3), tmp_path / "frames")
    (tmp_path / "frames" / "video.json").unlink()
    back = read_video(tmp_path / "frames")
    assert back.num_frames == 3 and back.fps == 8.0


def test_png_folder_sorts_foreign_names_naturally(tmp_path: Path) -> None:
    from PIL import Image

    video = shapes_video(num_frames=11)
    for index, rgb in enumerate(video.frames):
        Image.fromarray(rgb).save(tmp_path / f"shot{index}.png")
    assert np.array_equal(read_video(tmp_path).frames, video.frames)
    with pytest.raises(ValueError, match="other PNG files"):
        write_video(video, tmp_path)


# --- errors ------------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        read_video(tmp_path / "nope.mp4")


def test_unsupported_suffix_lists_allowed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.mp4, \.gif, \.png, or a folder"):
        shapes_video().write(tmp_path / "clip.avi")
    (tmp_path / "clip.webm").write_bytes(b"x")
    with pytest.raises(ValueError, match="allowed"):
        read_video(tmp_path / "clip.webm")


@pytest.mark.parametrize("name", ["clip.mp4", "clip.gif", "clip.png"])
def test_corrupt_files_raise_value_error(tmp_path: Path, name: str) -> None:
    text = tmp_path / name
    text.write_text("this is not a video\n")
    with pytest.raises(ValueError, match="could not decode"):
        read_video(text)
    # A real file cut short at several points (Pillow fails differently at each).
    whole = tmp_path / f"whole{Path(name).suffix}"
    shapes_video(num_frames=1 if name.endswith(".png") else 16).write(whole)
    data = whole.read_bytes()
    for fraction in (0.1, 0.5, 0.7, 0.9):
        truncated = tmp_path / f"truncated{Path(name).suffix}"
        truncated.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(ValueError, match="could not decode"):
            read_video(truncated)
