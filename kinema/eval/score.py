"""Score one video against its prompt: the KinemaBench entry point.

Contract: `score_video(video, prompt)` takes a `kinema.video.Video`, uint8 frames (T, H, W, 3) or a
path, and a prompt (text, `Scene` or scene dict), and returns a `Score`: one value in [0, 1] per
category of `expect.CATEGORIES`, None where the prompt makes a category uncheckable, and `overall`,
the mean of the values that are not None. It reads pixels only; the prompt's canvas and frame count
are taken from the video.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kinema.eval import interactions, metrics, motion
from kinema.eval.analyze import Analysis, analyze
from kinema.eval.expect import CATEGORIES, applies, expectation, unstated
from kinema.world.scene import Scene

METRICS: dict[str, Callable[[metrics.Context], float | None]] = {
    "color": metrics.color,
    "shape": metrics.shape,
    "count": metrics.count,
    "size": metrics.size,
    "position": metrics.position,
    "direction": motion.direction,
    "speed": motion.speed,
    "physics": motion.physics,
    "spin": motion.spin,
    "grow_shrink": motion.grow_shrink,
    "camera": motion.camera,
    "permanence": metrics.permanence,
    "identity": metrics.identity,
    "causality": interactions.causality,
    "smoothness": metrics.smoothness,
    "quality": metrics.quality,
}
assert tuple(METRICS) == CATEGORIES


@dataclass
class Score:
    categories: dict[str, float | None]
    seconds: float = 0.0  # analysis and scoring time
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def overall(self) -> float:
        values = [v for v in self.categories.values() if v is not None]
        return float(np.mean(values)) if values else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall, "categories": dict(self.categories), "seconds": self.seconds, **self.details}


def _frames_of(video: Any) -> tuple[np.ndarray, float]:
    if isinstance(video, (str, os.PathLike)):
        from kinema.video import read_video

        video = read_video(video)
    if hasattr(video, "frames") and hasattr(video, "fps"):
        return np.asarray(video.frames), float(video.fps)
    frames = np.asarray(video)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"video must be a Video, a path or uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
    return frames, 8.0


def score_analysis(analysis: Analysis, scene: Scene) -> dict[str, float | None]:
    """Per-category scores of an analysed video against the scene it should show."""
    ctx = metrics.Context(analysis, scene, metrics.match(analysis, scene))
    checkable = applies(scene, analysis.frames)
    return {name: (METRICS[name](ctx) if checkable[name] else None) for name in CATEGORIES}


def score_video(video: Any, prompt: str | Scene | dict[str, Any], fps: float | None = None) -> Score:
    """Score a video (Video, frames or path) against a prompt (text, Scene or scene dict)."""
    frames, video_fps = _frames_of(video)
    start = time.perf_counter()
    t, h, w = frames.shape[:3]
    scene = expectation(prompt, width=w, height=h, frames=t)
    analysis = analyze(frames, fps or video_fps)
    categories = score_analysis(analysis, scene)
    if isinstance(prompt, str):
        for name in unstated(prompt):
            categories[name] = None
    details = {"shots": len(analysis.shots), "objects": [(tr.color, tr.shape, len(tr)) for tr in analysis.objects()]}
    return Score(categories, time.perf_counter() - start, details)
