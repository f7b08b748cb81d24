"""Appearance and consistency metrics: color, shape, count, size, position, permanence, identity,
smoothness, quality; plus the matching of expected objects to tracks that every metric shares.

Contract: every metric takes a `Context` (the analysis of the pixels, the expected scene, and the
expected-object -> track matching) and returns a score in [0, 1]. 1 means the video does what the
prompt says in that respect; 0 means it clearly does not (or the object is missing). Tolerances are
stated where they are set, in canvas fractions, so a world render scores ~1 and a neighbouring
value (small vs medium, left vs middle) scores ~0.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from kinema.eval.analyze import Analysis
from kinema.eval.detect import Detection, equivalent_diameter, min_area
from kinema.eval.track import Track, majority_shape
from kinema.world.palette import FLOOR_FRACTION, SIZES
from kinema.world.scene import ObjectSpec, Scene


def ramp(value: float, good: float, bad: float) -> float:
    """1 at or better than `good`, 0 at or worse than `bad`, linear between (either orientation)."""
    if good == bad:
        return float(value <= good) if bad > 0 else float(value >= good)
    return float(np.clip((value - bad) / (good - bad), 0.0, 1.0))


def log_ratio_score(measured: float, expected: float, tolerance: float, limit: float) -> float:
    """1 within a factor `tolerance` of expected, 0 beyond a factor `limit`."""
    if measured <= 0 or expected <= 0:
        return 0.0
    return ramp(abs(math.log(measured / expected)), math.log(tolerance), math.log(limit))


def mean_or_none(scores: list[float | None]) -> float | None:
    """Mean over objects; None marks an object seen too little to judge (e.g. only ever half out
    of the frame) and is left out; None when no object could be judged. A missing object is 0."""
    known = [s for s in scores if s is not None]
    return float(np.mean(known)) if known else None


@dataclass
class Context:
    analysis: Analysis
    scene: Scene
    matches: list[Track | None]  # one per scene object

    def pairs(self) -> list[tuple[int, ObjectSpec, Track | None]]:
        return [(i, o, self.matches[i]) for i, o in enumerate(self.scene.objects)]

    def expected_diameter(self, obj: ObjectSpec) -> float:
        """Pixels at the first shot's framing."""
        return SIZES[obj.size] * self.analysis.min_side * self.scene.shots[0].zoom


def _measured_diameter(ctx: Context, track: Track, early: bool) -> float | None:
    """Median size of the whole, camera-corrected object in the first shot it appears in."""
    a = ctx.analysis
    shot = a.shots[a.shot_index(track.detections[0].frame)]
    clean = [d for d in track.clean() if shot.start <= d.frame < shot.stop]
    if not clean:
        return None
    if early:
        clean = clean[:3]
    shape = majority_shape(clean)
    sizes = [d.diameter if shape == "unknown" else equivalent_diameter(d.area, shape) for d in clean]
    zooms = [a.zoom_at(d.frame) for d in clean]
    return float(np.median(np.array(sizes) / np.array(zooms)))


def match(analysis: Analysis, scene: Scene) -> list[Track | None]:
    """Assign each expected object a distinct track, cheapest total cost (brute force, <= 3 objects).

    Color is the strongest cue, then shape, size and start position: a video with a blue ball where
    a red one was asked still has its motion judged on the blue ball; only color loses.
    """
    candidates = sorted(analysis.objects(), key=len, reverse=True)[:6]
    objects = scene.objects
    if not candidates:
        return [None] * len(objects)
    min_side = analysis.min_side

    def cost(obj: ObjectSpec, track: Track) -> float:
        c = 0.0 if track.color == obj.color else 100.0
        shape = track.shape
        c += 0.0 if shape in (obj.shape, "unknown") else 10.0
        sizes = [d.diameter for d in track.clean()[:5]]
        if sizes:
            c += abs(math.log(max(1e-3, float(np.median(sizes))) / (SIZES[obj.size] * min_side)))
        first = track.detections[0]
        if obj.x is not None:
            c += 3.0 * abs(first.x / analysis.width - obj.x)
        if obj.y is not None:
            c += 3.0 * abs(first.y / analysis.height - obj.y)
        return c - len(track) / max(1, analysis.frames)

    best: tuple[float, tuple[int | None, ...]] = (math.inf, ())
    slots = list(range(len(candidates))) + [None] * len(objects)
    for perm in set(itertools.permutations(slots, len(objects))):
        total = sum(1000.0 if k is None else cost(obj, candidates[k]) for obj, k in zip(objects, perm))
        if total < best[0]:
            best = (total, perm)
    return [None if k is None else candidates[k] for k in best[1]]


def color(ctx: Context) -> float:
    return float(np.mean([t is not None and t.color == o.color for _, o, t in ctx.pairs()]))


def shape(ctx: Context) -> float | None:
    scores: list[float | None] = []
    for _, obj, track in ctx.pairs():
        known = [d.shape for d in (track.clean() if track else []) if d.shape != "unknown"]
        scores.append(0.0 if track is None else float(np.mean([s == obj.shape for s in known])) if known else None)
    return mean_or_none(scores)


def count(ctx: Context) -> float:
    expected = len(ctx.scene.objects)
    return max(0.0, 1.0 - abs(len(ctx.analysis.objects()) - expected) / expected)


def size(ctx: Context) -> float | None:
    scores: list[float | None] = []
    for _, obj, track in ctx.pairs():
        if track is None:
            scores.append(0.0)
            continue
        early = obj.motion in ("grow", "shrink")  # judged at the start, before it changes
        measured = _measured_diameter(ctx, track, early)
        # 1 within 12% of the stated size; 0 at 45% off (the next size class is 50% larger).
        scores.append(None if measured is None else log_ratio_score(measured, ctx.expected_diameter(obj), 1.12, 1.45))
    return mean_or_none(scores)


def _third(value: float, extent: float) -> tuple[float, float]:
    """The third of [0, extent] that `value` falls in, as an interval (the caption's regions)."""
    k = min(2, max(0, int(value / extent * 3)))
    return k * extent / 3, (k + 1) * extent / 3


def position(ctx: Context) -> float:
    """Start region, where stated: the captions' thirds (left / center / right of the width; top /
    middle / bottom of the space above the floor). Inside the asked third scores 1, falling to 0 an
    eighth of the canvas outside it."""
    a, shot = ctx.analysis, ctx.scene.shots[0]
    top = 1.0 - FLOOR_FRACTION if ctx.scene.floor else 1.0
    scores = []
    for _, obj, track in ctx.pairs():
        if obj.motion == "enter" or (obj.x is None and obj.y is None):
            continue
        first = track.detections[0] if track else None
        if first is not None and first.frame >= a.shots[0].stop:
            first = None  # first seen only after a cut: it did not start where asked
        axes = []
        for value, center, measured, extent, span in (
            (obj.x, shot.cx, first.x if first else None, a.width, 1.0),
            (obj.y, shot.cy, first.y if first else None, a.height, top),
        ):
            if value is None:
                continue
            if measured is None:
                axes.append(0.0)
                continue
            expected = (value - center) * shot.zoom + 0.5  # where the first shot's framing puts it
            lo, hi = _third(min(max(expected, 0.0), span - 1e-6), span)
            outside = max(lo - measured / extent, measured / extent - hi, 0.0)
            axes.append(ramp(outside, 0.0, 1 / 8))
        scores.append(min(axes))  # right only if right on both axes: "top left" is not "top right"
    return float(np.mean(scores)) if scores else 0.0


def _hidden_or_out(a: Analysis, det: Detection, neighbour_frame: int) -> bool:
    """Could this object have gone behind (or come from behind) something, or across the edge?

    True if it touches the frame edge or another object, or if, grown by its own size, it overlaps
    another object in the neighbouring frame (it moved behind it between frames).
    """
    if det.touches_edge or det.touches_other:
        return True
    if det.area < 2.5 * min_area(a.height, a.width):
        return True  # shrinking (or far away) toward what can be seen at all
    if not 0 <= neighbour_frame < a.frames:
        return False
    grow = max(det.bbox[2] - det.bbox[0], det.bbox[3] - det.bbox[1])
    x0, y0, x1, y1 = det.bbox[0] - grow, det.bbox[1] - grow, det.bbox[2] + grow, det.bbox[3] + grow
    return any(
        o.color != det.color and o.bbox[0] < x1 and o.bbox[2] > x0 and o.bbox[1] < y1 and o.bbox[3] > y0
        for o in a.per_frame[neighbour_frame]
    )


def permanence(ctx: Context) -> float:
    """Objects appear and vanish only at the frame edge, behind (or beside) another object, or at a cut."""
    a = ctx.analysis
    cuts = {s.start for s in a.shots}
    scores = []
    for _, _, track in ctx.pairs():
        if track is None:
            scores.append(0.0)
            continue
        dets = track.detections
        unexplained = 0  # frames the object is missing for no visible reason
        for before, after in zip([None, *dets], [*dets, None]):
            gap_start = before.frame + 1 if before else 0
            gap_stop = after.frame if after else a.frames
            if gap_stop <= gap_start:
                continue  # consecutive frames: nothing appeared or vanished
            cut_inside = any(gap_start <= c <= gap_stop for c in cuts if c > 0)
            left = before is None or cut_inside or _hidden_or_out(a, before, before.frame + 1)
            came = after is None or cut_inside or _hidden_or_out(a, after, after.frame - 1)
            if not (left and came):
                unexplained += gap_stop - gap_start
        # Missing for a tenth of the video in the open scores 0.8; for half of it, 0.
        scores.append(max(0.0, 1.0 - 2.0 * unexplained / a.frames))
    # Blobs that come and go without becoming an object are the same failure, in miniature.
    specks = len([t for t in a.tracks if t not in a.objects() and not t.detections[0].touches_edge])
    return float(np.mean(scores)) / (1.0 + 0.25 * specks)


def identity(ctx: Context) -> float:
    """Across shots: the same objects (color and shape) are seen, and as many shots as asked."""
    a = ctx.analysis
    expected_shots = len([s for s in ctx.scene.shots if s.start < a.frames])
    scores = []
    for _, obj, track in ctx.pairs():
        for shot in a.shots[1:]:
            if track is None:
                scores.append(0.0)
                continue
            seen = [d for d in track.detections if shot.start <= d.frame < shot.stop]
            if not seen:
                continue  # a close-up may frame an object out: not a change of identity
            shape_here = majority_shape(seen)
            scores.append(float(shape_here in (obj.shape, "unknown") and track.color == obj.color))
    # Objects that appear only after a cut, in colors the prompt never named, are new identities.
    strangers = [t for t in a.objects() if t not in ctx.matches and t.detections[0].frame >= a.shots[0].stop]
    base = float(np.mean(scores)) if scores else 0.0
    # Too few cuts seen costs a quarter per cut (a reframing can be nearly invisible); none at all
    # leaves no later shot to compare, which scores 0 above.
    shots_ok = max(0.0, 1.0 - 0.25 * abs(len(a.shots) - expected_shots))
    return base * shots_ok / (1.0 + 0.5 * len(strangers))


def smoothness(ctx: Context) -> float:
    """No flicker: the background holds still between frames and objects keep their area."""
    a = ctx.analysis
    parts = [ramp(a.background_flicker, 2.0, 12.0)]
    changes = []
    for _, _, track in ctx.pairs():
        clean = track.clean() if track else []
        for d0, d1 in zip(clean, clean[1:]):
            if d1.frame == d0.frame + 1 and a.shot_index(d0.frame) == a.shot_index(d1.frame):
                changes.append(abs(d1.area - d0.area) / max(d0.area, 1.0))
    if changes:
        # Grow/shrink changes area ~5% a frame and anti-aliasing a few percent; 40% is a flicker.
        parts.append(ramp(float(np.median(changes)), 0.1, 0.4))
    elif not any(ctx.matches):
        parts.append(0.0)
    return float(np.mean(parts))


def quality(ctx: Context) -> float:
    """Sharp edges and a clean background: every pixel close to a palette, background or floor color."""
    stats = ctx.analysis.stats
    classified = float(np.mean([s.classified for s in stats]))
    noise = float(np.median([s.background_noise for s in stats]))
    edges = float(np.median([s.edge_width for s in stats]))
    parts = [ramp(classified, 0.97, 0.8), ramp(noise, 3.0, 15.0), ramp(edges, 1.5, 4.0)]
    return float(np.prod(parts) ** (1 / 3))  # geometric: one bad aspect (noise, blur) is bad quality
