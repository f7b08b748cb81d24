"""Frame moderation: check every generated frame before a video is returned.

Contract: `check_frames(frames)` takes uint8 frames (T, H, W, 3) and returns a `FrameVerdict`:
`allowed`, a `reason` a person can read, the indices of `flagged_frames`, and the measured
`seconds_per_frame`. A video with any flagged frame is withheld by the caller.

Checks, each run on every frame:
1. Nudity: NudeNet's detector (YOLOv8n, 320 px, ONNX weights shipped inside the `nudenet` wheel,
   run with onnxruntime on the CPU). Kinema's frames are small (64 px), so each frame is padded
   to a square and upscaled to `DETECTOR_SIZE` as the detector expects; a frame is flagged when
   an *exposed* class (breasts, genitals, buttocks, anus) scores >= `NUDITY_THRESHOLD`. If the
   package is not installed the check is reported as skipped in the reason, never silently.
2. Skin: the fraction of skin-toned pixels (Kovac's RGB rule, the YCbCr box and a saturation of
   at least 0.2, together). None of the world's palette colors is skin-toned, and its backgrounds
   are dark, so a frame more than `SKIN_FRACTION` skin is far outside what Kinema should make.
3. Blood: the fraction of dark, saturated red pixels (R 60-160 with G and B under 0.3 R). The
   world's red (220, 40, 40) is brighter than that, even 25% darker; only its anti-aliased rims
   fall inside. A red object rendered far too dark in close-up would be flagged.

The thresholds are tuned so that renders of the world (palette shapes on its dark backgrounds,
close-ups included) and blurred, noisy, color-shifted versions of them are never flagged (see
tests/safety/test_frames.py). They would be too strict for a general photo model, on purpose:
withholding an odd video costs less than returning a harmful one.
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

DETECTOR_SIZE = 320  # NudeNet's training resolution; 64 px frames are upscaled 5x
NUDITY_THRESHOLD = 0.5
EXPOSED_CLASSES: frozenset[str] = frozenset({
    "FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED", "ANUS_EXPOSED",
})
NUDENET_LABELS: tuple[str, ...] = (  # output order of the shipped 320n.onnx
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED",
    "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED",
)
SKIN_FRACTION = 0.30
BLOOD_FRACTION = 0.20
BATCH = 8  # frames per detector call


@dataclass(frozen=True)
class FrameFlag:
    frame: int
    check: str  # "nudity", "skin" or "blood"
    detail: str  # e.g. "FEMALE_BREAST_EXPOSED 0.81" or "skin 0.46 of the frame"


@dataclass(frozen=True)
class FrameVerdict:
    allowed: bool
    reason: str
    flagged_frames: list[int]
    seconds_per_frame: float
    flags: list[FrameFlag] = field(default_factory=list)
    checks: tuple[str, ...] = ()  # the checks that ran

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reason": self.reason, "flagged_frames": list(self.flagged_frames),
                "seconds_per_frame": self.seconds_per_frame, "checks": list(self.checks)}


def check_frames(frames: np.ndarray, nudity: bool = True) -> FrameVerdict:
    """Run every check on every frame; see the module docstring. `nudity=False` skips the detector."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        shape = getattr(frames, "shape", None)
        raise ValueError(f"frames must be a uint8 array (T, H, W, 3), got {type(frames).__name__} {getattr(frames, 'dtype', '')} {shape}")
    if len(frames) == 0:
        raise ValueError("frames is empty; a video has at least one frame")
    start = time.perf_counter()
    flags = [*color_flags(frames)]
    checks = ["skin", "blood"]
    skipped = ""
    if nudity:
        detector = nudity_detector()
        if detector is None:
            skipped = " (the nudity detector is not installed: pip install nudenet)"
        else:
            flags += detector.flags(frames)
            checks.insert(0, "nudity")
    seconds = (time.perf_counter() - start) / len(frames)
    flagged = sorted({f.frame for f in flags})
    if not flags:
        reason = f"allowed: {len(frames)} frames passed {', '.join(checks)} checks{skipped}"
        return FrameVerdict(True, reason, [], seconds, [], tuple(checks))
    first = min(flags, key=lambda f: (f.frame, f.check))
    kinds = sorted({f.check for f in flags})
    what = {"nudity": "nudity", "skin": "a large skin-toned area (possible nudity)", "blood": "a large blood-red area (possible gore)"}
    reason = (f"withheld: {len(flagged)} of {len(frames)} frames show " + " and ".join(what[k] for k in kinds)
              + f", first at frame {first.frame} ({first.detail}); Kinema does not return such videos")
    return FrameVerdict(False, reason, flagged, seconds, flags, tuple(checks))


def skin_mask(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: skin-toned by Kovac's RGB rule and by the YCbCr box (both)."""
    rgb = frames.astype(np.int16)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    spread = rgb.max(axis=-1) - rgb.min(axis=-1)
    kovac = (r > 95) & (g > 40) & (b > 20) & (spread > 15) & (np.abs(r - g) > 15) & (r > g) & (r > b)
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    # Skin is never gray-white: without this, a warm-tinted white square in close-up reads as pale skin.
    saturated = 5 * spread >= rgb.max(axis=-1)  # (max - min) / max >= 0.2
    return kovac & saturated & (cb >= 77) & (cb <= 127) & (cr >= 133) & (cr <= 173)


def blood_mask(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) bool: dark saturated red, the color of blood rather than of the world's red."""
    rgb = frames.astype(np.int16)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r >= 60) & (r <= 160) & (10 * g < 3 * r) & (10 * b < 3 * r)


def color_flags(frames: np.ndarray) -> list[FrameFlag]:
    """Kinema's own checks: frames mostly skin-toned or blood-red."""
    flags = []
    skin = skin_mask(frames).mean(axis=(1, 2))
    blood = blood_mask(frames).mean(axis=(1, 2))
    for t in np.flatnonzero(skin > SKIN_FRACTION):
        flags.append(FrameFlag(int(t), "skin", f"skin {skin[t]:.2f} of the frame"))
    for t in np.flatnonzero(blood > BLOOD_FRACTION):
        flags.append(FrameFlag(int(t), "blood", f"blood-red {blood[t]:.2f} of the frame"))
    return flags


class NudityDetector:
    """NudeNet's shipped ONNX detector, batched, on frames of any size.

    Speed without weakening the check: exact-duplicate frames (a still scene, a held last frame)
    are scored once and share the score; onnxruntime's worker threads sleep when idle instead of
    spinning (on a busy machine spinning threads burned ~40% more CPU per frame for no gain in
    wall time). Every distinct frame still goes through the detector at full size."""

    def __init__(self, model_path: str, size: int = DETECTOR_SIZE, threads: int | None = None, spinning: bool = False,
                 dedupe: bool = True) -> None:
        import onnxruntime

        if threads is not None and threads < 1:
            raise ValueError(f"threads must be a positive count or None (use the cores available), got {threads}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or min(4, available_cores())
        options.inter_op_num_threads = 1  # one model, run sequentially: a second pool only competes
        if not spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.size = size
        self.dedupe = dedupe

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) uint8 -> (T, 3, size, size) float32 in [0, 1]: pad to a square at the
        bottom/right (as NudeNet does) and upscale with nearest-neighbour indexing."""
        t, h, w, _ = frames.shape
        side = max(h, w)
        square = np.zeros((t, side, side, 3), np.uint8)
        square[:, :h, :w] = frames
        index = (np.arange(self.size) * side // self.size).astype(np.intp)
        big = square[:, index][:, :, index]
        return np.ascontiguousarray(big.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0

    def scores(self, frames: np.ndarray) -> np.ndarray:
        """(T, 18) best score per class per frame; identical frames are run once (`dedupe`)."""
        if self.dedupe:
            first: dict[bytes, int] = {}
            owner = np.array([first.setdefault(frame.tobytes(), len(first)) for frame in frames])
            if len(first) == len(frames):
                return self.raw_scores(frames)
            # owner ids count up in order of first appearance, so return_index lists each first copy
            return self.raw_scores(frames[np.unique(owner, return_index=True)[1]])[owner]
        return self.raw_scores(frames)

    def raw_scores(self, frames: np.ndarray) -> np.ndarray:
        """(T, 18) detector scores of every frame given, in batches of `BATCH`."""
        out = []
        for start in range(0, len(frames), BATCH):
            batch = self.prepare(frames[start : start + BATCH])
            raw = self.session.run(None, {self.input_name: batch})[0]  # (B, 4 + 18, anchors)
            out.append(raw[:, 4:, :].max(axis=2))
        return np.concatenate(out)

    def flags(self, frames: np.ndarray) -> list[FrameFlag]:
        scores = self.scores(frames)
        flags = []
        for t, row in enumerate(scores):
            for index, label in enumerate(NUDENET_LABELS):
                if label in EXPOSED_CLASSES and row[index] >= NUDITY_THRESHOLD:
                    flags.append(FrameFlag(t, "nudity", f"{label} {row[index]:.2f}"))
        return flags


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def detector_model_path() -> str | None:
    """The path of NudeNet's shipped 320n.onnx, or None when nudenet or onnxruntime is missing."""
    spec = importlib.util.find_spec("nudenet")  # locate the weights without importing cv2
    if spec is None or spec.origin is None or importlib.util.find_spec("onnxruntime") is None:
        return None
    return os.path.join(os.path.dirname(spec.origin), "320n.onnx")


@lru_cache(maxsize=1)
def nudity_detector() -> NudityDetector | None:
    """The shared detector (one onnxruntime session per process), or None when nudenet is not installed."""
    path = detector_model_path()
    return None if path is None else NudityDetector(path)
