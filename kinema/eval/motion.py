"""Motion metrics: direction, speed, physics, spin, grow_shrink, camera (causality: interactions.py).

Contract as in `metrics.py`: each takes a `Context` and returns a score in [0, 1]. Motion is read
in the world (camera pan and zoom removed within each shot, `Analysis.world_xy`) and converted to
the scene's units: canvas widths per second for speed, canvas heights per second squared for
gravity, turns per second for spin. Expected values come from the scene where it states them and
from the world's ranges where it does not (a prompt rarely says how fast).
"""

from __future__ import annotations

import math

import numpy as np

from kinema.eval import camera as camera_analysis
from kinema.eval.expect import DIRECTED_MOTIONS
from kinema.eval.metrics import Context, log_ratio_score, mean_or_none, ramp
from kinema.eval.track import Track
from kinema.world.physics import ZOOM_CHANGE
from kinema.world.regions import FAST_ABOVE, SLOW_BELOW, SPEED_POINTS
from kinema.world.scene import GRAVITY, SIZE_CHANGE, SPIN_SPEED, ObjectSpec
from kinema.world.palette import DIRECTIONS

SHARP = math.cos(math.radians(22.5))  # within half a compass step: the right direction
WRONG = math.cos(math.radians(67.5))  # one and a half steps off: the wrong one
SPIN_PERIOD = {"square": 90.0, "triangle": 120.0}
# Canvas widths/s a prompt that states no speed accepts: the slide range and what the world's
# placer uses to fit a motion in the clip (slower enters and returns, faster throws).
UNSTATED_SPEED = (0.08, 0.6)
UNSTATED_THROW = (0.15, 1.2)


def _segment(ctx: Context, track: Track) -> tuple[np.ndarray, np.ndarray]:
    """Frames and world positions of the whole object in the first shot it appears in.

    Only whole views: the visible part of an object half outside the frame, or half hidden, has a
    centroid that lags its true motion (callers with too few views return None: unobservable).
    """
    a = ctx.analysis
    dets = track.detections
    shot = a.shot_index(dets[0].frame)
    in_shot = [i for i, d in enumerate(dets) if a.shot_index(d.frame) == shot]
    # Bordering another object is not enough to drop a detection (it only touches); losing area is.
    typical = float(np.median([dets[i].area for i in in_shot]))
    whole = [i for i in in_shot if not dets[i].touches_edge and dets[i].area >= 0.85 * typical]
    return track.frames[whole], a.world_xy(track)[whole]


def _first_run(frames: np.ndarray) -> int:
    """Length of the leading run of consecutive frames."""
    gaps = np.nonzero(np.diff(frames) != 1)[0]
    return int(gaps[0]) + 1 if len(gaps) else len(frames)


def _early_velocity(ctx: Context, track: Track, frames_wanted: int | None = None) -> np.ndarray | None:
    """World px/frame over the first third of the first unbroken run (before collisions, walls,
    returns). An object that leaves at once (a return) is measured on its partial views instead."""
    frames, xy = _segment(ctx, track)
    run = _first_run(frames)
    if run < 3:
        a = ctx.analysis
        shot = a.shot_index(track.detections[0].frame)
        keep = [i for i, d in enumerate(track.detections) if a.shot_index(d.frame) == shot]
        frames, xy = track.frames[keep], a.world_xy(track)[keep]
        run = _first_run(frames)
        if run < 2:
            return None
    k = min(run, frames_wanted or max(3, int(math.ceil(run / 3))))
    return np.polyfit(frames[:k].astype(float), xy[:k], 1)[0]


def _zoom(ctx: Context, track: Track) -> float:
    # A generated video may cut more often than its prompt asks: extra shots keep the last framing.
    shots = ctx.scene.shots
    return shots[min(ctx.analysis.shot_index(int(track.frames[0])), len(shots) - 1)].zoom


def direction(ctx: Context) -> float | None:
    scores: list[float | None] = []
    for _, obj, track in ctx.pairs():
        if obj.motion not in DIRECTED_MOTIONS or obj.direction is None:
            continue
        if track is None:
            scores.append(0.0)
            continue
        # A drifting bounce or a throw may reach a wall (which reflects it) within a few frames.
        velocity = _early_velocity(ctx, track, 3 if obj.motion in ("bounce", "throw") else None)
        if velocity is None:
            scores.append(None)  # seen too briefly to tell
            continue
        if float(np.hypot(*velocity)) < 0.05:
            scores.append(0.0)  # seen, not moving: no direction
            continue
        want = np.array(DIRECTIONS[obj.direction])
        if obj.motion in ("bounce", "throw"):  # only the horizontal drift is stated
            velocity = np.array([velocity[0], 0.0])
        cosine = float(np.dot(velocity, want) / (np.hypot(*velocity) + 1e-9))
        scores.append(ramp(cosine, SHARP, WRONG))
    return mean_or_none(scores)


def _speed_measured(ctx: Context, obj: ObjectSpec, track: Track) -> float | None:
    """Widths/s (or turns/s for spin) from the median per-frame step, robust to walls and contacts."""
    a = ctx.analysis
    if obj.motion == "spin":
        steps = _spin_steps(ctx, track)
        return float(np.median(np.abs(steps))) * a.fps / 360.0 if len(steps) else None
    frames, xy = _segment(ctx, track)
    if len(frames) < 3:
        return None
    k = max(3, int(math.ceil(len(frames) / 3)))
    step = np.diff(xy[:k], axis=0) / np.diff(frames[:k])[:, None]
    if obj.motion in ("bounce", "throw"):
        step = step[:, :1]
    return float(np.median(np.linalg.norm(step, axis=1))) * a.fps / a.width / _zoom(ctx, track)


def _speed_range(obj: ObjectSpec) -> tuple[float, float]:
    """Speeds that satisfy the prompt: the stated one, the range a speed word covers ("slowly" is
    anything below SLOW_BELOW), or, unstated, the world's wide range for that motion."""
    if obj.motion == "spin":
        return (obj.speed, obj.speed) if obj.speed is not None else (SPIN_SPEED, SPIN_SPEED)
    if obj.speed is not None and obj.speed == SPEED_POINTS["slow"]:
        return (0.05, SLOW_BELOW)
    if obj.speed is not None and obj.speed == SPEED_POINTS["fast"]:
        return (FAST_ABOVE, 1.0)
    if obj.speed is not None:
        return (obj.speed, obj.speed)
    return UNSTATED_THROW if obj.motion == "throw" else UNSTATED_SPEED


def speed(ctx: Context) -> float | None:
    """Within 25% of the stated speed (or inside the world's range when unstated) scores 1; 2x off, 0."""
    scores: list[float | None] = []
    for _, obj, track in ctx.pairs():
        if obj.motion not in DIRECTED_MOTIONS | {"spin"} or (obj.motion == "bounce" and obj.direction is None):
            continue
        if track is None:
            scores.append(0.0)
            continue
        measured = _speed_measured(ctx, obj, track)
        if measured is None:
            scores.append(None)
            continue
        lo, hi = _speed_range(obj)
        nearest = min(max(measured, lo), hi)
        scores.append(log_ratio_score(measured, nearest, 1.25, 2.0))
    return mean_or_none(scores)


def _gravity_px(ctx: Context, track: Track) -> float:
    """g in image px/frame^2 at the track's framing."""
    a = ctx.analysis
    return GRAVITY * a.height / a.fps**2 * _zoom(ctx, track)


def _floor_line(ctx: Context, frame: int) -> float:
    """Screen row objects rest on in this frame: the floor's top edge, else the bottom edge."""
    top = ctx.analysis.stats[frame].floor_top
    return float(top) if top is not None else float(ctx.analysis.height)


def _accel_score(ctx: Context, track: Track, frames: np.ndarray, y: np.ndarray, contacts: list[int]) -> float | None:
    """Median vertical acceleration in flight (away from contacts and rest) against g."""
    acc = []
    for i in range(1, len(y) - 1):
        if frames[i + 1] - frames[i] != 1 or frames[i] - frames[i - 1] != 1:
            continue  # a gap (hidden, out of frame): no second difference across it
        near_contact = any(abs(i - c) <= 1 for c in contacts)
        resting = abs(y[i + 1] - y[i]) < 0.3 and abs(y[i] - y[i - 1]) < 0.3
        if not near_contact and not resting:
            acc.append(y[i + 1] - 2 * y[i] + y[i - 1])
    if len(acc) < 2:
        return None  # too little free flight in view to measure
    return log_ratio_score(float(np.median(acc)), _gravity_px(ctx, track), 1.3, 2.5)


def _contacts(y: np.ndarray) -> list[int]:
    """Indices where the path turns from falling to rising (y grows downward). A contact between
    two samples can leave two near-equal lowest samples: the turn then spans a plateau of two."""
    out = []
    for i in range(1, len(y) - 1):
        if y[i] < y[i - 1] or (out and out[-1] == i - 1):
            continue
        if y[i] - y[i + 1] > 0.3:
            out.append(i)
        elif abs(y[i + 1] - y[i]) <= 0.3 and y[i] - y[i - 1] > 0.3 and i + 2 < len(y) and y[i + 1] - y[i + 2] > 0.3:
            out.append(i)
    return out


def _on_floor(ctx: Context, track: Track, frames: np.ndarray, y: np.ndarray, i: int) -> float:
    det = track.at(int(frames[i]))
    if det is None:
        return 0.0
    # The touch falls between samples; the fastest nearby step bounds how far off the sample is.
    step = float(np.max(np.abs(np.diff(y[max(0, i - 2) : i + 2])))) if len(y) > 1 else 0.0
    return float(abs(det.bbox[3] - _floor_line(ctx, det.frame)) <= 1.5 + 0.6 * step)


def _physics_one(ctx: Context, obj: ObjectSpec, track: Track) -> float | None:
    frames, xy = _segment(ctx, track)
    side = ctx.analysis.min_side
    if len(frames) < 4:
        return None
    x, y = xy[:, 0], xy[:, 1]
    if obj.motion == "still":
        moved = float(np.max(np.hypot(x - x[0], y - y[0])))
        return ramp(moved / side, 0.03, 0.12)
    if obj.motion == "slide":
        t = frames.astype(float)
        residual = _linear_residual(t, xy)
        travelled = float(np.hypot(x[-1] - x[0], y[-1] - y[0]))
        return min(ramp(residual / side, 0.01, 0.05), ramp(travelled / side, 0.1, 0.02))
    contacts = _contacts(y)
    parts: list[float | None] = []
    # Seen to the end of the video? Else it may have left the view (pan, zoom, a cut) before landing.
    seen_through = frames[-1] >= ctx.analysis.frames - 1
    resting = len(y) >= 3 and abs(y[-1] - y[-2]) < 0.5 and abs(y[-2] - y[-3]) < 0.5
    if obj.motion == "bounce":
        if not contacts:
            # No landing seen: fatal if it was in view all along, else judge the flight alone.
            return 0.0 if seen_through else _accel_score(ctx, track, frames, y, [])
        parts.append(float(np.mean([_on_floor(ctx, track, frames, y, c) for c in contacts])))
        parts.append(_accel_score(ctx, track, frames, y, contacts))
        apexes = [i for i in range(1, len(y) - 1) if y[i] <= y[i - 1] and y[i] < y[i + 1]]
        if len(apexes) >= 2:
            heights = [_floor_line(ctx, int(frames[i])) - y[i] for i in apexes]
            parts.append(float(np.mean([h1 <= h0 * 1.05 + 0.5 for h0, h1 in zip(heights, heights[1:])])))
    elif obj.motion == "fall":
        first = contacts[0] if contacts else len(y) - 1
        parts.append(float(y[0] < 0.5 * ctx.analysis.height))  # starts high
        parts.append(_accel_score(ctx, track, frames, y[: first + 1], [first]))
        if contacts or resting or seen_through:  # lands on the floor (a heavy fall may not rebound)
            parts.append(_on_floor(ctx, track, frames, y, first))
    elif obj.motion == "throw":
        first = contacts[0] if contacts else len(y)
        arc = y[: first + 1]
        parts.append(_accel_score(ctx, track, frames, arc, [first]))
        parts.append(float(len(arc) >= 3 and int(np.argmin(arc)) not in (0,) and arc[0] - arc.min() > 1.0))
        # Constant horizontal speed (walls may reflect it, so the size of each step, not its sign).
        steps = np.abs(np.diff(x[: first + 1])) / np.diff(frames[: first + 1])
        if len(steps) >= 2 and np.median(steps) > 0.05:
            spread = float(np.median(np.abs(steps - np.median(steps))) / np.median(steps))
            parts.append(ramp(spread, 0.1, 0.4))
        elif len(steps) >= 2:
            parts.append(0.0)  # no horizontal motion: not a throw
    return mean_or_none(parts)


def _linear_residual(t: np.ndarray, values: np.ndarray) -> float:
    """RMS distance of points from their best straight-line-in-time fit."""
    values = values.reshape(len(t), -1)
    coef = np.polyfit(t, values, 1)
    fit = np.outer(t, coef[0]) + coef[1]
    return float(np.sqrt(np.mean(np.sum((values - fit) ** 2, axis=1))))


def physics(ctx: Context) -> float | None:
    """Each object obeys its law: still stays, slide keeps a straight constant velocity, bounce
    touches the floor with decaying apexes under g, fall accelerates and lands, throw flies a parabola."""
    involved = {i.subject for i in ctx.scene.interactions} | {i.other for i in ctx.scene.interactions}
    scores: list[float | None] = []
    for i, obj, track in ctx.pairs():
        if obj.motion not in ("still", "slide", "bounce", "fall", "throw") or i in involved:
            continue
        scores.append(_physics_one(ctx, obj, track) if track else 0.0)
    return mean_or_none(scores)


def _spin_steps(ctx: Context, track: Track) -> np.ndarray:
    """Rotation per frame in degrees (+ = clockwise on screen), unwrapped by the shape's symmetry."""
    period = SPIN_PERIOD.get(track.shape)
    if period is None:
        return np.zeros(0)
    clean = [d for d in track.clean() if d.shape == track.shape]
    steps = [
        (d1.angle - d0.angle + period / 2) % period - period / 2
        for d0, d1 in zip(clean, clean[1:])
        if d1.frame == d0.frame + 1 and ctx.analysis.shot_index(d0.frame) == ctx.analysis.shot_index(d1.frame)
    ]
    return np.array(steps)


def spin(ctx: Context) -> float | None:
    scores: list[float | None] = []
    for _, obj, track in ctx.pairs():
        if obj.motion != "spin":
            continue
        if track is None:
            scores.append(0.0)
            continue
        steps = _spin_steps(ctx, track)
        if len(steps) < 2:
            scores.append(None)  # never seen whole in two frames in a row
            continue
        turning = steps[np.abs(steps) > 2.0]
        if len(turning) < 2:
            scores.append(0.0)  # seen, not turning
            continue
        sign = 1.0 if obj.direction == "clockwise" else -1.0
        scores.append(float(np.mean(np.sign(turning) == sign)))
    return mean_or_none(scores)


def grow_shrink(ctx: Context) -> float | None:
    """Size changes the asked way: 70% of the expected rate (x2 in size over the clip) scores 1.

    The rate is the slope of log size over frames, fitted within each shot (a cut reframes), over
    the frames where the object is seen whole, with the camera's zoom divided out.
    """
    a = ctx.analysis
    scores: list[float | None] = []
    for _, obj, track in ctx.pairs():
        if obj.motion not in ("grow", "shrink"):
            continue
        if track is None:
            scores.append(0.0)
            continue
        clean = track.clean()
        if len(clean) < 4:
            scores.append(None)
            continue
        frames = np.array([d.frame for d in clean], dtype=float)
        log_size = np.array([0.5 * math.log(max(d.area, 1e-3)) - math.log(a.zoom_at(d.frame)) for d in clean])
        shots = np.array([a.shot_index(d.frame) for d in clean])
        for shot in set(shots.tolist()):  # per-shot intercepts
            here = shots == shot
            frames[here] -= frames[here].mean()
            log_size[here] -= log_size[here].mean()
        if not np.any(frames):
            scores.append(0.0)
            continue
        slope = float((frames * log_size).sum() / (frames * frames).sum())
        expected = math.log(SIZE_CHANGE) / max(1, a.frames - 1) * (1 if obj.motion == "grow" else -1)
        scores.append(float(np.clip(slope / expected / 0.7, 0.0, 1.0)))
    return mean_or_none(scores)


def camera(ctx: Context) -> float:
    """Pan direction and speed, or zoom, from the background texture; a still camera shows neither."""
    a, cam = ctx.analysis, ctx.scene.camera
    reliable = a.texture_peak > camera_analysis.TEXTURE_RELIABLE
    scores: list[float | None] = []
    for shot, spec in zip(a.shots, ctx.scene.shots):
        if shot.stop - shot.start < 3:
            continue
        pan = shot.texture_motion[0] * a.fps / a.width  # widths/s the world scrolls (+ = right)
        zoom_log = math.log(shot.zoom) if shot.zoom_confidence > 0.08 else 0.0  # stars after H.264: ~0.1
        if not reliable:
            scores.append(0.0)
        elif cam.motion == "still":
            scores.append(min(ramp(abs(pan), 0.03, 0.08), ramp(abs(zoom_log), math.log(1.08), math.log(1.25))))
        elif cam.motion in ("pan_left", "pan_right"):
            want = cam.speed * spec.zoom * (1.0 if cam.motion == "pan_left" else -1.0)  # pan left: world scrolls right
            scores.append(ramp(pan / want, 0.7, 0.0) * ramp(pan / want, 2.0, 3.0))
        else:
            span = (shot.stop - 1 - shot.start) / max(1, a.frames - 1)
            want_log = math.log(ZOOM_CHANGE) * span * (1.0 if cam.motion == "zoom_in" else -1.0)
            scores.append(ramp(zoom_log / want_log, 0.6, 0.0) if want_log else 0.0)
    return mean_or_none(scores)
