"""Interaction metric: causality (push, collide) and occlusion order (pass behind / in front).

Contract as in `metrics.py`: `causality(ctx)` returns a score in [0, 1] averaged over the scene's
interactions, 0 when either object is missing. Contact is read from pixels: the frame where the
two objects' boxes come closest, accepted if the gap is within one frame's relative travel (a
contact usually falls between two frames).
"""

from __future__ import annotations

import numpy as np

from kinema.eval.metrics import Context, mean_or_none
from kinema.eval.track import bbox_gap


def causality(ctx: Context) -> float | None:
    """Push: the struck object moves only after contact and the striker slows. Collide: they meet,
    then separate. Pass behind / in front: the right one is hidden where they overlap."""
    scores: list[float | None] = []
    for it in ctx.scene.interactions:
        a_track, b_track = ctx.matches[it.subject], ctx.matches[it.other]
        if a_track is None or b_track is None:
            scores.append(0.0)
            continue
        common = sorted(set(a_track.frames.tolist()) & set(b_track.frames.tolist()))
        if len(common) < 3:
            scores.append(0.0)
            continue
        a_det = [a_track.at(f) for f in common]
        b_det = [b_track.at(f) for f in common]
        gaps = np.array([bbox_gap(p, q) for p, q in zip(a_det, b_det)])  # type: ignore[arg-type]
        if it.kind in ("pass_behind", "pass_in_front"):
            scores.append(_occlusion_order(it.kind, a_det, b_det, gaps))  # type: ignore[arg-type]
            continue
        b_xy = np.array([[d.x, d.y] for d in b_det])  # type: ignore[union-attr]
        a_xy = np.array([[d.x, d.y] for d in a_det])  # type: ignore[union-attr]
        # Contact falls between frames: the closest frame counts if the gap is within one
        # frame's relative travel.
        contact = int(np.argmin(gaps))
        relative_step = float(np.max(np.hypot(*np.diff(a_xy - b_xy, axis=0).T))) if len(a_xy) > 1 else 0.0
        if gaps[contact] > 1.5 + relative_step:
            scores.append(0.0)
            continue
        side = ctx.analysis.min_side
        if it.kind == "push":
            moved = np.hypot(*(b_xy - b_xy[0]).T) > max(1.0, 0.02 * side)
            onset = int(np.argmax(moved)) if moved.any() else None
            before = np.hypot(*np.diff(a_xy[: contact + 1], axis=0).T)
            after = np.hypot(*np.diff(a_xy[contact:], axis=0).T)
            slowed = len(before) and len(after) and np.median(after) < 0.8 * np.median(before)
            scores.append(float(np.mean([onset is not None, onset is not None and onset >= contact - 1, bool(slowed)])))
        else:  # collide: approach before contact, separate after
            dist = np.hypot(*(a_xy - b_xy).T)
            approach = float(np.mean(np.diff(dist[: contact + 1]) <= 0.5)) if contact > 0 else 0.0
            separate = float(len(dist) > contact + 2 and dist[-1] > dist[contact] + 0.05 * side)
            scores.append(float(np.mean([approach, separate])))
    return mean_or_none(scores)


def _occlusion_order(kind: str, a_det: list, b_det: list, gaps: np.ndarray) -> float:
    """The subject's visible area dips while overlapping if it passes behind, the other's if in front."""
    overlap = [i for i, g in enumerate(gaps) if g == 0]
    if not overlap:
        return 0.0
    a_area = np.array([d.area for d in a_det])
    b_area = np.array([d.area for d in b_det])
    a_dip = float(np.min(a_area[overlap]) / np.median(a_area))
    b_dip = float(np.min(b_area[overlap]) / np.median(b_area))
    hidden_a = a_dip < b_dip
    return float(hidden_a == (kind == "pass_behind"))
