"""How well Kinema's invisible watermark survives, what it costs, and how often it is found where it
was never put.

    python benchmarks/watermark_robustness.py [--clips 100] [--nulls 100] [--seed 0] [--json out.json]
    python benchmarks/watermark_robustness.py --before     # round 1: strength 2.25, pilot-only detector

Watermarked set: `--clips` world renders (`kinema.world.sample`, the "full" mix of sizes, lengths,
pans and zooms), each marked with a Kinema payload ("KN" high 16 bits, random low 16 bits, as `kinema_payload` makes
them) and written as Kinema writes it (MP4,
yuv444p CRF 12), read back, attacked, then read by `kinema.safety.watermark.extract`.
Null sets, through the same MP4 write and the same attacks: `--nulls` unmarked world renders
(other seeds), and `--nulls` unrelated videos (1/f noise textures, gradients, drifting blobs, white
noise; 64 to 128 px; 1 to 65 frames).

Per attack it prints: bit accuracy of the payload (mean, worst); the true-positive rate at the
detector's own threshold (p < 0.01), overall and for videos and single images (the "full" mix has
1-frame clips) apart, and the false-positive rates that threshold gives on each null set; and the true-positive rate at an empirical 1% false-positive rate (the threshold set at
the 99th percentile of each null set's scores). Then the PSNR cost of the watermark and the
embed / extract times.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from PIL import Image

from kinema.safety import watermark as wm
from kinema.video import Video, read_video
from kinema.world.render import render
from kinema.world.sample import sample_scene

Attack = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def h264(frames: np.ndarray, crf: int) -> np.ndarray:
    """Re-encode as H.264 yuv420p at ``crf`` through PyAV (an attacker's ffmpeg), decoded back to RGB."""
    frames = frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2]  # 4:2:0 needs even sizes
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": str(crf)}
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))
        container.mux(stream.encode(None))
    buffer.seek(0)
    with av.open(buffer) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def resize_pil(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.BILINEAR)) for f in frames])


def resize_ffmpeg(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """swscale's default bicubic, as `ffmpeg -vf scale=iw/2:ih/2` does it."""
    return np.stack([av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
                     .reformat(width=width, height=height, interpolation="BICUBIC").to_ndarray(format="rgb24")
                     for f in frames])


def half(frames: np.ndarray) -> tuple[int, int]:
    return max(1, frames.shape[2] // 2), max(1, frames.shape[1] // 2)


def crop10(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cut 10% of the height and of the width, split at random between the two sides."""
    height, width = frames.shape[1:3]
    ch, cw = round(0.1 * height), round(0.1 * width)
    top, left = int(rng.integers(0, ch + 1)), int(rng.integers(0, cw + 1))
    return frames[:, top : top + height - ch, left : left + width - cw]


def drop_half(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    keep = rng.random(len(frames)) < 0.5
    keep[int(rng.integers(len(frames)))] = True
    return frames[keep]


ATTACKS: dict[str, Attack] = {
    "none (Kinema's MP4)": lambda f, r: f,
    "H.264 CRF 23 4:2:0": lambda f, r: h264(f, 23),
    "H.264 CRF 28 4:2:0": lambda f, r: h264(f, 28),
    "half size (bilinear)": lambda f, r: resize_pil(f, *half(f)),
    "half size (ffmpeg bicubic)": lambda f, r: resize_ffmpeg(f, *half(f)),
    "half and back": lambda f, r: resize_pil(resize_pil(f, *half(f)), f.shape[2], f.shape[1]),
    "crop 10%": crop10,
    "drop every 2nd+3rd frame": lambda f, r: f[::3],
    "drop 50% at random": drop_half,
    "crop 10% + CRF 28": lambda f, r: h264(crop10(f, r), 28),
    "half + CRF 23": lambda f, r: h264(resize_ffmpeg(f, *half(f)), 23),
    "half + CRF 28": lambda f, r: h264(resize_ffmpeg(f, *half(f)), 28),
}


def world_clip(seed: int) -> np.ndarray:
    return np.asarray(render(sample_scene(seed, "full")).frames)


def unrelated_clip(seed: int) -> np.ndarray:
    """Natural-ish videos that never met Kinema: textures, gradients, blobs, noise, in motion."""
    rng = np.random.default_rng(seed)
    height, width = [(64, 64), (64, 96), (64, 112), (128, 128), (96, 64)][seed % 5]
    frames = int(rng.choice([1, 9, 17, 33, 65]))
    kind = seed % 4
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 0:  # 1/f^beta color texture, panning
        radius = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :])
        spectrum = rng.normal(size=(3, height, width // 2 + 1)) + 1j * rng.normal(size=(3, height, width // 2 + 1))
        texture = np.fft.irfft2(spectrum / np.maximum(radius, 1 / max(height, width)) ** rng.uniform(0.8, 1.6), s=(height, width))
        base = np.moveaxis(texture / texture.std() * rng.uniform(15, 50) + rng.uniform(40, 200, 3)[:, None, None], 0, -1)
        step = rng.integers(-2, 3, 2)
        clip = np.stack([np.roll(base, (int(step[0]) * t, int(step[1]) * t), axis=(0, 1)) for t in range(frames)])
    elif kind == 1:  # moving color gradient
        angle, speed = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 3)
        along = np.cos(angle) * xx + np.sin(angle) * yy
        colors = rng.uniform(0, 255, (2, 3))
        clip = np.stack([colors[0] + (colors[1] - colors[0]) * (0.5 + 0.5 * np.sin((along + speed * t) / rng.uniform(15, 60)))[..., None]
                         for t in range(frames)])
    elif kind == 2:  # soft blobs drifting over a gradient
        clip = np.empty((frames, height, width, 3), np.float32)
        centers, velocity = rng.uniform(0, [width, height], (5, 2)), rng.normal(0, 1.5, (5, 2))
        colors, sizes = rng.uniform(0, 255, (5, 3)), rng.uniform(4, 20, 5)
        for t in range(frames):
            frame = np.zeros((height, width, 3), np.float32) + (xx / width * 80 + 40)[..., None]
            for c, v, color, s in zip(centers, velocity, colors, sizes):
                weight = np.exp(-((xx - c[0] - v[0] * t) ** 2 + (yy - c[1] - v[1] * t) ** 2) / (2 * s * s))[..., None]
                frame = frame * (1 - weight) + color * weight
            clip[t] = frame
    else:  # sensor-like noise over a flat color
        clip = rng.uniform(20, 230, 3) + rng.normal(0, rng.uniform(2, 20), (frames, height, width, 3))
    return np.clip(clip + rng.normal(0, 1.0, clip.shape), 0, 255).astype(np.uint8)


def as_kinema_writes(frames: np.ndarray, folder: Path) -> np.ndarray:
    """Frames after a round trip through Kinema's own MP4 (yuv444p CRF 12)."""
    path = folder / "clip.mp4"
    Video(frames, 8.0).write(path)
    return np.asarray(read_video(path).frames)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def tpr_at_fpr(positives: np.ndarray, negatives: np.ndarray, fpr: float = 0.01) -> float:
    """Share of positive scores above the (1 - fpr) quantile of the negative scores."""
    threshold = np.quantile(negatives, 1 - fpr, method="higher")
    return float(np.mean(positives > threshold))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=100, help="watermarked world clips")
    parser.add_argument("--nulls", type=int, default=100, help="unmarked clips per null set (world, unrelated)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    parser.add_argument("--before", action="store_true", help="round 1's settings: strength 2.25, pilot-only detector")
    args = parser.parse_args()
    strength, magic = (2.25, False) if args.before else (wm.STRENGTH, True)

    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    scores: dict[str, dict[str, list[float]]] = {name: {"z": [], "acc": [], "found": [], "image": [], "world": [], "unrelated": [],
                                                        "world_found": [], "unrelated_found": []} for name in ATTACKS}
    psnrs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(args.clips):
            clip = world_clip(args.seed * 100_000 + i)
            payload = wm.KINEMA_PAYLOAD | int(rng.integers(0, 2**16))
            marked = wm.embed(clip, payload, strength=strength)
            psnrs.setdefault(f"{clip.shape[2]}x{clip.shape[1]}", []).append(psnr(clip, marked))
            written = as_kinema_writes(marked, folder)
            for name, attack in ATTACKS.items():
                found = wm.extract(attack(written, rng), expected=payload, magic=magic)
                scores[name]["z"].append(found.z)
                scores[name]["acc"].append(found.bit_accuracy)
                scores[name]["found"].append(found.found)
                scores[name]["image"].append(len(clip) == 1)
        for i in range(args.nulls):
            for kind, clip in (("world", world_clip(args.seed * 100_000 + 50_000 + i)), ("unrelated", unrelated_clip(args.seed * 100_000 + i))):
                written = as_kinema_writes(clip, folder)
                for name, attack in ATTACKS.items():
                    found = wm.extract(attack(written, rng), magic=magic)
                    scores[name][kind].append(found.z)
                    scores[name][f"{kind}_found"].append(found.found)

    report: dict[str, object] = {"clips": args.clips, "nulls_per_set": args.nulls, "alpha": wm.FALSE_POSITIVE_RATE, "attacks": {}}
    print(f"{args.clips} watermarked world clips, {args.nulls} unmarked world clips, {args.nulls} unrelated videos "
          f"(seed {args.seed}); detector threshold p < {wm.FALSE_POSITIVE_RATE:g}\n")
    header = (f"{'attack':<28}{'bit acc':>8}{'worst':>7}{'TPR@p<.01':>11}{'videos':>8}{'images':>8}{'FPR world':>11}"
              f"{'FPR unrel':>11}{'TPR@1%FPR world':>17}{'unrel':>7}")
    print(header)
    print("-" * len(header))
    for name, s in scores.items():
        z, world, unrelated = (np.asarray(s[k]) for k in ("z", "world", "unrelated"))
        found, image = np.asarray(s["found"], bool), np.asarray(s["image"], bool)
        row = {"bit_accuracy_mean": float(np.mean(s["acc"])), "bit_accuracy_worst": float(np.min(s["acc"])),
               "tpr_at_threshold": float(np.mean(found)),
               "tpr_videos": float(np.mean(found[~image])) if (~image).any() else float("nan"),
               "tpr_images": float(np.mean(found[image])) if image.any() else float("nan"),
               "fpr_world_at_threshold": float(np.mean(s["world_found"])), "fpr_unrelated_at_threshold": float(np.mean(s["unrelated_found"])),
               "tpr_at_1pct_fpr_world": tpr_at_fpr(z, world), "tpr_at_1pct_fpr_unrelated": tpr_at_fpr(z, unrelated),
               "z_median": float(np.median(z)), "null_z_max": float(max(world.max(), unrelated.max()))}
        report["attacks"][name] = row  # type: ignore[index]
        print(f"{name:<28}{row['bit_accuracy_mean']:>8.3f}{row['bit_accuracy_worst']:>7.2f}{row['tpr_at_threshold']:>11.3f}"
              f"{row['tpr_videos']:>8.3f}{row['tpr_images']:>8.3f}"
              f"{row['fpr_world_at_threshold']:>11.3f}{row['fpr_unrelated_at_threshold']:>11.3f}"
              f"{row['tpr_at_1pct_fpr_world']:>17.3f}{row['tpr_at_1pct_fpr_unrelated']:>7.3f}")
    images = int(np.sum(scores[next(iter(ATTACKS))]["image"]))
    print(f"(videos / images: TPR of the {args.clips - images} clips of 9-65 frames / of the {images} single frames)")
    all_null = np.concatenate([np.asarray(s[k]) for s in scores.values() for k in ("world", "unrelated")])
    all_null_found = np.concatenate([np.asarray(s[k]) for s in scores.values() for k in ("world_found", "unrelated_found")])
    print(f"\nnull scores over every attack ({len(all_null)}): z 99th percentile {np.quantile(all_null, 0.99):.2f}, "
          f"max {all_null.max():.2f}; false positives at p < 0.01: {all_null_found.mean():.4f}")
    report["null_overall"] = {"count": int(len(all_null)), "z_p99": float(np.quantile(all_null, 0.99)),
                              "z_max": float(all_null.max()), "fpr_at_threshold": float(all_null_found.mean())}

    print("\nPSNR of the watermark (marked vs original frames, before any encoding):")
    for size, values in sorted(psnrs.items()):
        print(f"  {size:>8}: mean {np.mean(values):.2f} dB, worst {np.min(values):.2f} dB ({len(values)} clips)")
    everything = [v for values in psnrs.values() for v in values]
    print(f"  {'all':>8}: mean {np.mean(everything):.2f} dB, worst {np.min(everything):.2f} dB")
    report["psnr"] = {size: {"mean": float(np.mean(v)), "worst": float(np.min(v)), "clips": len(v)} for size, v in psnrs.items()}

    print("\nspeed (best of 7, one process):")
    timings = {}
    for frames, width, height in ((33, 64, 64), (65, 112, 64), (65, 256, 256)):
        clip = np.asarray(render(sample_scene(1, "full", width=width, height=height, frames=frames)).frames)
        marked = wm.embed(clip)
        wm.extract(marked)
        embed_ms = 1000 * min(_timed(lambda: wm.embed(clip)) for _ in range(7))
        extract_ms = 1000 * min(_timed(lambda: wm.extract(marked)) for _ in range(7))
        timings[f"{frames}x{width}x{height}"] = {"embed_ms": embed_ms, "extract_ms": extract_ms}
        print(f"  {frames} frames {width}x{height}: embed {embed_ms:.1f} ms, extract {extract_ms:.1f} ms")
    report["speed"] = timings
    print(f"\n({time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
