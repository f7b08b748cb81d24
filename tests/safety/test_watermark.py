"""The invisible watermark: invisible (PSNR), found after the attacks it promises to survive, not
found where it was never put, and read back from real files by `kinema detect`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from kinema.cli.provenance import register
from kinema.safety import watermark as wm
from kinema.safety.detect import detect_file
from kinema.video import Video, read_video
from kinema.world.palette import BACKGROUNDS, COLORS

PAYLOAD = 0x4B4E_1234


def world_clip(seed: int, frames: int = 33, height: int = 64, width: int = 64) -> np.ndarray:
    """Flat palette shapes moving over a dark background with faint stars, like the world's renders."""
    rng = np.random.default_rng(seed)
    background = np.array(list(BACKGROUNDS.values())[seed % len(BACKGROUNDS)], np.float32)
    stars = np.zeros((height, width), np.float32)
    count = height * width // 110
    stars[rng.integers(0, height, count), rng.integers(0, width, count)] = rng.uniform(4, 12, count)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    shapes = [(np.array(list(COLORS.values())[rng.integers(len(COLORS))], np.float32), rng.uniform(5, 14),
               rng.uniform([10, 10], [width - 10, height - 10]), rng.normal(0, 1.0, 2), rng.random() < 0.5)
              for _ in range(rng.integers(1, 4))]
    out = np.empty((frames, height, width, 3), np.float32)
    for t in range(frames):
        frame = background + stars[..., None]
        for color, size, start, velocity, round_ in shapes:
            cx, cy = start + velocity * t
            dist = np.hypot(xx - cx, yy - cy) if round_ else np.maximum(abs(xx - cx), abs(yy - cy))
            cover = np.clip(0.5 - (dist - size / 2), 0, 1)[..., None]
            frame = frame * (1 - cover) + color * cover
        out[t] = frame
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def noise_clip(seed: int, frames: int = 17, height: int = 64, width: int = 64) -> np.ndarray:
    """Unrelated video: smooth random texture plus a gradient, drifting."""
    rng = np.random.default_rng(seed)
    spectrum = rng.normal(size=(height, width // 2 + 1)) + 1j * rng.normal(size=(height, width // 2 + 1))
    radius = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :])
    texture = np.fft.irfft2(spectrum / np.maximum(radius, 1 / width) ** 1.2, s=(height, width))
    base = 40 * texture / texture.std() + np.linspace(60, 160, width)[None, :]
    clip = np.stack([np.roll(base, t, axis=1) for t in range(frames)])
    return np.clip(np.repeat(clip[..., None], 3, axis=-1) + rng.normal(0, 2, (frames, height, width, 3)), 0, 255).astype(np.uint8)


def reencode(frames: np.ndarray, path: Path, crf: int) -> np.ndarray:
    """Write H.264 4:2:0 at ``crf`` with PyAV (an attacker's re-encode) and read it back."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": str(crf)}
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))
        container.mux(stream.encode(None))
    return np.asarray(read_video(path).frames)


def resize(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.BILINEAR)) for f in frames])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    return [world_clip(seed, width=(64, 96, 112)[seed % 3]) for seed in range(3)]


def test_embed_is_invisible_and_leaves_the_input_alone(clips: list[np.ndarray]) -> None:
    for clip in clips:
        before = clip.copy()
        marked = wm.embed(clip, PAYLOAD)
        assert marked.shape == clip.shape and marked.dtype == np.uint8
        assert np.array_equal(clip, before)
        assert psnr(clip, marked) >= 40.0
        # Luma only: R, G and B move together wherever nothing clips.
        delta = marked.astype(int) - clip
        inside = (clip > 10).all(-1) & (clip < 245).all(-1)
        assert np.array_equal(delta[..., 0][inside], delta[..., 1][inside])


def test_payload_reads_back_exactly_and_kinema_is_the_default(clips: list[np.ndarray]) -> None:
    found = wm.extract(wm.embed(clips[0], PAYLOAD), expected=PAYLOAD)
    assert found.found and found.payload == PAYLOAD and found.bit_accuracy == 1.0
    assert found.p_value < 1e-20 and found.confidence > 0.999
    default = wm.extract(wm.embed(clips[1]))
    assert default.found and default.is_kinema_payload and default.payload == wm.KINEMA_PAYLOAD
    versioned = wm.kinema_payload("0.1.0")
    assert versioned >> 16 == wm.MAGIC and versioned & 0xFFFF
    assert wm.extract(wm.embed(clips[2], b"KN\x00\x07")).payload == 0x4B4E0007


def test_unmarked_videos_and_other_keys_are_not_found(clips: list[np.ndarray]) -> None:
    unmarked = [*clips, *(world_clip(seed) for seed in range(10, 16)), *(noise_clip(seed) for seed in range(8))]
    detections = [wm.extract(clip) for clip in unmarked]
    # At alpha = 1% about 0.2 of these 17 may be flagged by chance; at 0.1%, about 0.02.
    assert sum(d.found for d in detections) <= 1
    assert not any(d.p_value < 1e-3 for d in detections)
    # The null is what the p-value assumes: z stays in the range of a max of 8192 N(0, 1) draws.
    assert max(d.z for d in detections) < 5.5
    assert not wm.extract(wm.embed(clips[0], key="someone else's key")).found
    assert wm.extract(wm.embed(clips[0], key=b"private"), key=b"private").found


@pytest.mark.parametrize("crf", [23, 28])
def test_survives_h264_reencode(clips: list[np.ndarray], tmp_path: Path, crf: int) -> None:
    for i, clip in enumerate(clips):
        attacked = reencode(wm.embed(clip, PAYLOAD), tmp_path / f"{i}.mp4", crf)
        found = wm.extract(attacked, expected=PAYLOAD)
        assert found.found and found.bit_accuracy >= 0.9, (i, found)


def test_survives_resize_to_half_and_back(clips: list[np.ndarray]) -> None:
    for clip in clips:
        marked = wm.embed(clip, PAYLOAD)
        height, width = clip.shape[1:3]
        half = resize(marked, width // 2, height // 2)
        small = wm.extract(half, expected=PAYLOAD)
        assert small.found and small.scale == 0.5 and small.bit_accuracy >= 0.9
        back = wm.extract(resize(half, width, height), expected=PAYLOAD)
        assert back.found and back.scale == 1.0 and back.bit_accuracy >= 0.9


def test_survives_crops_anywhere_and_frame_drops(clips: list[np.ndarray], tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for clip in clips:
        marked = wm.embed(clip, PAYLOAD)
        height, width = clip.shape[1:3]
        ch, cw = round(0.1 * height), round(0.1 * width)
        for top, left in [(0, 0), (ch, cw), (ch // 2, cw // 2), (int(rng.integers(ch)), int(rng.integers(cw)))]:
            found = wm.extract(marked[:, top : top + height - ch, left : left + width - cw], expected=PAYLOAD)
            assert found.found and found.bit_accuracy == 1.0
            assert found.shift == (top, left)
        assert wm.extract(marked[::3], expected=PAYLOAD).bit_accuracy == 1.0
        kept = np.sort(rng.choice(len(marked), 5, replace=False))
        assert wm.extract(marked[kept], expected=PAYLOAD).found
    # Crop and re-encode together.
    marked = wm.embed(clips[0], PAYLOAD)
    assert wm.extract(reencode(marked[:, 4:62, 2:60], tmp_path / "crop.mp4", 28)).found


def test_a_single_image_carries_it_too(clips: list[np.ndarray]) -> None:
    image = clips[0][:1]
    assert wm.extract(wm.embed(image, PAYLOAD), expected=PAYLOAD).bit_accuracy == 1.0
    assert not wm.extract(image).found


def test_fast_enough_for_every_video() -> None:
    clip = world_clip(7)
    wm.extract(wm.embed(clip))  # warm the caches
    embed_s = min(_timed(lambda: wm.embed(clip)) for _ in range(5))
    extract_s = min(_timed(lambda: wm.extract(clip)) for _ in range(5))
    # The target is < 50 ms each for 33 frames at 64x64; the bound leaves room for a loaded CI box.
    assert embed_s < 0.1 and extract_s < 0.1, (embed_s, extract_s)


def test_bad_arguments_name_the_value() -> None:
    clip = world_clip(0, frames=2)
    with pytest.raises(ValueError, match="uint8"):
        wm.embed(clip.astype(np.float32))
    with pytest.raises(ValueError, match="at most 4"):
        wm.embed(clip, b"too long")
    with pytest.raises(ValueError, match="2\\*\\*32"):
        wm.embed(clip, 2**32)
    with pytest.raises(ValueError, match="strength"):
        wm.embed(clip, strength=0)
    with pytest.raises(ValueError, match="key is empty"):
        wm.extract(clip, key="")
    with pytest.raises(ValueError, match="alpha"):
        wm.extract(clip, alpha=1.5)


def test_detect_reads_every_kind_of_file(clips: list[np.ndarray], tmp_path: Path) -> None:
    marked = Video(wm.embed(clips[0]), 8.0)
    marked.write(tmp_path / "clip.mp4")
    marked.write(tmp_path / "clip.gif")
    marked.slice(0, 1).write(tmp_path / "still.png")
    marked.write(tmp_path / "frames/")
    marked.write(tmp_path / "web.mp4", quality="web")
    for name in ("clip.mp4", "clip.gif", "still.png", "frames", "web.mp4"):
        assert detect_file(tmp_path / name).found, name
    Video(clips[0], 8.0).write(tmp_path / "plain.mp4")
    assert not detect_file(tmp_path / "plain.mp4").found
    with pytest.raises(FileNotFoundError):
        detect_file(tmp_path / "missing.mp4")
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    with pytest.raises(ValueError, match="broken.mp4"):
        detect_file(tmp_path / "broken.mp4")


def test_cli_detect_exit_codes_and_json(clips: list[np.ndarray], tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    Video(wm.embed(clips[1]), 8.0).write(tmp_path / "marked.mp4")
    Video(clips[1], 8.0).write(tmp_path / "plain.mp4")
    runner = CliRunner()
    found = runner.invoke(app, ["detect", str(tmp_path / "marked.mp4"), "--json"])
    assert found.exit_code == 0, found.output
    verdict = json.loads(found.output)
    assert verdict["found"] and verdict["is_kinema_payload"] and verdict["confidence"] > 0.99
    missing = runner.invoke(app, ["detect", str(tmp_path / "plain.mp4")])
    assert missing.exit_code == 1 and "no Kinema watermark" in missing.output
    assert runner.invoke(app, ["detect", str(tmp_path / "nope.mp4")]).exit_code == 2


def _timed(work: object) -> float:
    start = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - start
