"""Detections to tracks: one track per object over the whole video, by color and shape.

Contract: `link(per_frame)` takes per-frame detections (from `detect.detect`) and returns tracks,
each holding at most one detection per frame. The world's objects keep their color, shape and size
for the whole video (shared/WORLD.md), so a track is keyed by color first: a detection joins the
nearest open track of its color (shape mismatch costs extra), without a distance gate, so an object
that leaves and comes back, is hidden for a while, or jumps at a shot cut stays one track. Two
same-colored pieces that both border the same other object are one object split by an occluder in
front of it and are merged before linking.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from kinema.eval.detect import Detection

SHAPE_MISMATCH_COST = 1e4  # pixels: a different shape is "further" than anything on the canvas


@dataclass
class Track:
    """One object over time. Detections are sorted by frame, one per frame at most."""

    color: str
    detections: list[Detection] = field(default_factory=list)

    @property
    def frames(self) -> np.ndarray:
        return np.array([d.frame for d in self.detections], dtype=int)

    @property
    def xy(self) -> np.ndarray:
        """Centroids (n, 2) in pixels."""
        return np.array([[d.x, d.y] for d in self.detections], dtype=float).reshape(-1, 2)

    @property
    def shape(self) -> str:
        """Majority shape over the frames where the whole object is clearly seen."""
        return majority_shape(self.detections)

    def clean(self) -> list[Detection]:
        """Detections seen whole: not cut by the frame edge, not bordering another object."""
        return [d for d in self.detections if not d.touches_edge and not d.touches_other]

    def at(self, frame: int) -> Detection | None:
        for d in self.detections:
            if d.frame == frame:
                return d
        return None

    def __len__(self) -> int:
        return len(self.detections)


def majority_shape(detections: list[Detection]) -> str:
    votes: dict[str, int] = {}
    clean = [d for d in detections if not d.touches_edge and not d.touches_other] or detections
    for d in clean:
        if d.shape != "unknown":
            votes[d.shape] = votes.get(d.shape, 0) + 1
    return max(votes, key=lambda s: votes[s]) if votes else "unknown"


def bbox_gap(a: Detection, b: Detection) -> float:
    """Distance in pixels between two bboxes (0 when they touch or overlap)."""
    dx = max(0, max(a.bbox[0], b.bbox[0]) - min(a.bbox[2], b.bbox[2]))
    dy = max(0, max(a.bbox[1], b.bbox[1]) - min(a.bbox[3], b.bbox[3]))
    return float(np.hypot(dx, dy))


def _merge(a: Detection, b: Detection) -> Detection:
    area = a.area + b.area
    bbox = (min(a.bbox[0], b.bbox[0]), min(a.bbox[1], b.bbox[1]), max(a.bbox[2], b.bbox[2]), max(a.bbox[3], b.bbox[3]))
    return replace(
        a,
        x=(a.x * a.area + b.x * b.area) / area,
        y=(a.y * a.area + b.y * b.area) / area,
        area=area,
        bbox=bbox,
        shape="unknown",
        touches_edge=a.touches_edge or b.touches_edge,
        touches_other=True,
    )


def merge_split(detections: list[Detection]) -> list[Detection]:
    """Join same-colored pieces that border a common other-colored object (an occluder)."""
    out = list(detections)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(out):
            for j in range(i + 1, len(out)):
                b = out[j]
                if a.color != b.color or not (a.touches_other and b.touches_other):
                    continue
                occluders = [o for o in out if o.color != a.color and bbox_gap(o, a) <= 2 and bbox_gap(o, b) <= 2]
                if occluders:
                    out[i] = _merge(a, b)
                    del out[j]
                    merged = True
                    break
            if merged:
                break
    return out


def link(per_frame: list[list[Detection]]) -> list[Track]:
    """Link per-frame detections into tracks (see module docstring)."""
    tracks: list[Track] = []
    for dets in per_frame:
        dets = merge_split(dets)
        for color in sorted({d.color for d in dets}):
            mine = [d for d in dets if d.color == color]
            open_tracks = [t for t in tracks if t.color == color]
            pairs = []
            for i, d in enumerate(mine):
                for k, t in enumerate(open_tracks):
                    last = t.detections[-1]
                    cost = float(np.hypot(d.x - last.x, d.y - last.y))
                    if "unknown" not in (d.shape, t.shape) and d.shape != t.shape:
                        cost += SHAPE_MISMATCH_COST
                    pairs.append((cost, i, k))
            used_d: set[int] = set()
            used_t: set[int] = set()
            for _, i, k in sorted(pairs):  # greedy is optimal enough for at most three objects
                if i in used_d or k in used_t:
                    continue
                open_tracks[k].detections.append(mine[i])
                used_d.add(i)
                used_t.add(k)
            for i, d in enumerate(mine):
                if i not in used_d:
                    tracks.append(Track(color=color, detections=[d]))
    return tracks
