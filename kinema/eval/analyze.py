"""One call from pixels to everything the metrics read: detections, tracks, shots, camera.

Contract: `analyze(frames, fps)` takes uint8 frames (T, H, W, 3) (or a `kinema.video.Video`) and
returns an `Analysis`. It never sees a prompt, a scene or ground truth. Positions are pixels in
image coordinates (x right, y down). `Analysis.world_xy(track)` removes the camera's own motion
within each shot (pan shift, zoom about the center), so "the ball slides right" is judged in the
world even when the camera pans with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinema.eval import camera
from kinema.eval.detect import BACKGROUND, Detection, FrameStats, detect
from kinema.eval.track import Track, link


@dataclass(frozen=True)
class ShotMotion:
    """One shot [start, stop) and the camera motion measured in it."""

    start: int
    stop: int
    texture_motion: tuple[float, float]  # median texture shift, pixels/frame (world scrolls this way)
    zoom: float  # apparent scale at the last frame over the first (> 1: zooming in)
    zoom_confidence: float  # normalised correlation at the best scale (0 = no evidence)


@dataclass
class Analysis:
    width: int
    height: int
    fps: float
    per_frame: list[list[Detection]]
    stats: list[FrameStats]
    tracks: list[Track]
    shots: list[ShotMotion]
    texture_motion: np.ndarray  # (T, 2) texture shift from the previous frame, pixels
    texture_peak: float  # median frame-to-frame texture correlation: how much texture there is to trust
    background_flicker: float  # median change of the background between frames, RGB units

    @property
    def frames(self) -> int:
        return len(self.per_frame)

    @property
    def min_side(self) -> int:
        return min(self.width, self.height)

    @property
    def floor_top(self) -> float | None:
        """Median floor line over frames that show a floor, in pixels from the top."""
        tops = [s.floor_top for s in self.stats if s.floor_top is not None]
        return float(np.median(tops)) if len(tops) * 2 >= len(self.stats) else None

    def shot_index(self, frame: int) -> int:
        return max(i for i, s in enumerate(self.shots) if s.start <= frame)

    def objects(self) -> list[Track]:
        """Tracks seen long enough to be objects rather than specks (3 frames, fewer in short clips)."""
        need = max(1, min(3, int(np.ceil(0.1 * self.frames))))
        return [t for t in self.tracks if len(t) >= need]

    def zoom_at(self, frame: int) -> float:
        """Camera zoom at `frame` relative to its shot's first frame."""
        shot = self.shots[self.shot_index(frame)]
        return float(shot.zoom ** ((frame - shot.start) / max(1, shot.stop - 1 - shot.start)))

    def world_xy(self, track: Track) -> np.ndarray:
        """(n, 2) centroids with the camera's pan and zoom removed within each shot."""
        out = track.xy.copy()
        center = np.array([self.width / 2, self.height / 2])
        for i, det in enumerate(track.detections):
            shot = self.shots[self.shot_index(det.frame)]
            # The world's camera moves at constant speed within a shot, so the shot's median texture
            # shift times the frames elapsed beats summing noisy per-frame shifts.
            moved = np.array(shot.texture_motion) * (det.frame - shot.start)
            out[i] = center + (out[i] - center) / self.zoom_at(det.frame) - moved
        return out


def analyze(frames: np.ndarray | object, fps: float | None = None) -> Analysis:
    """Analyse a video given as uint8 frames (T, H, W, 3) or a `kinema.video.Video`."""
    if hasattr(frames, "frames") and hasattr(frames, "fps"):
        fps = float(fps or frames.fps)  # type: ignore[attr-defined]
        frames = frames.frames  # type: ignore[attr-defined]
    array = np.asarray(frames)
    if array.ndim == 3:
        array = array[None]
    per_frame, stats, labels = detect(array)
    texture, keep = camera.background_images(array, labels)
    shifts = camera.pair_shifts(texture, keep)
    cuts = camera.find_cuts(shifts, per_frame, min(array.shape[1:3]))
    motion = camera.pan_per_frame(shifts, cuts)
    bounds = cuts + [len(array)]
    shots = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        inner = motion[start + 1 : stop]
        median = tuple(float(v) for v in _robust_mean(inner)) if len(inner) else (0.0, 0.0)
        # The world's camera pans or zooms, never both, and each can mimic the other a little (a
        # zoom drifts stripes sideways, a pan fools the scale search): keep the model under which
        # the shot's last texture matches its first best.
        zoom, confidence = camera.zoom_factor(texture, keep, start, stop)
        if float(np.hypot(*median)) > camera.PAN_NOISE:
            pan_fit = camera.shift_likeness(texture, keep, start, stop, median[0] * (stop - 1 - start))
            if pan_fit >= confidence:
                zoom, confidence = 1.0, 0.0
            else:
                median = (0.0, 0.0)
        shots.append(ShotMotion(start, stop, median, zoom, confidence))  # type: ignore[arg-type]
    peaks = shifts[1:, 2]
    return Analysis(
        width=int(array.shape[2]),
        height=int(array.shape[1]),
        fps=float(fps or 8.0),
        per_frame=per_frame,
        stats=stats,
        tracks=link(per_frame),
        shots=shots,
        texture_motion=motion,
        texture_peak=float(np.median(peaks)) if len(peaks) else 0.0,
        background_flicker=_flicker(array, labels, shifts, cuts),
    )


def _robust_mean(values: np.ndarray) -> np.ndarray:
    """Mean of per-frame shifts without outliers (a periodic stripe can alias by its period).

    Not a median: the texture is nearest-sampled, so a 1.2 px/frame pan moves it 1, 1, 1, 1, 2
    pixels, and only the mean of those steps is the true speed.
    """
    lo, hi = np.percentile(values, 25, axis=0) - 1.5, np.percentile(values, 75, axis=0) + 1.5
    out = []
    for axis in range(values.shape[1]):
        column = values[:, axis]
        inside = column[(column >= lo[axis]) & (column <= hi[axis])]
        out.append(float(inside.mean()) if len(inside) else float(np.median(column)))
    return np.array(out)


def _flicker(frames: np.ndarray, labels: np.ndarray, shifts: np.ndarray, cuts: list[int]) -> float:
    """Median over frame pairs of the median gray change of background pixels, after the pan."""
    gray = frames.astype(np.float32).mean(-1)
    background = labels == BACKGROUND
    values = []
    for t in range(1, len(gray)):
        if t in cuts:
            continue
        dx, dy = int(round(shifts[t, 0])), int(round(shifts[t, 1]))
        before = np.roll(gray[t - 1], (dy, dx), axis=(0, 1))
        both = background[t] & np.roll(background[t - 1], (dy, dx), axis=(0, 1))
        if both.sum() > 16:  # stars and stripes are sparse or faint: the median ignores them
            values.append(float(np.median(np.abs(gray[t][both] - before[both]))))
    return float(np.median(values)) if values else 0.0
