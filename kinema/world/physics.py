"""World physics: exact trajectories of a placed `Scene` and its per-frame camera view.

Contract (shared/WORLD.md, constants from `kinema.world.scene`):
- World coordinates are pixels of the first shot's canvas with a still camera: x right, y down,
  the canvas is [0, W] x [0, H], pixel (row i, column j) covers [j, j+1] x [i, i+1].
- `motion_at(scene, times)` evaluates every object at arbitrary times (seconds) in closed form;
  `trajectories(scene)` is that at the frame times t = i / fps.
- still/spin/grow/shrink stay put; slide/enter/exit move at `speed` canvas widths/s along
  `direction` (both axes in widths); return turns back once fully outside the frame by
  `RETURN_MARGIN` of the shorter side.
- bounce/fall/throw fall under g = GRAVITY * H px/s^2 onto the floor top (H * (1 - FLOOR_FRACTION)
  with a floor, else H) with their lowest point; flights are parabolas between contact times
  solved from the quadratic, so successive apex heights decay by exactly restitution**2; a bounce
  lower than `REST_HEIGHT` px ends at rest. Horizontal drift reflects off the side walls.
- collide / push are events between linearly moving objects, resolved in time order;
  pass_behind / pass_in_front are draw order only (see `kinema.world.render`).
- The view: screen = (world - view.center) * view.zoom + canvas center. A shot frames
  (cx * W, cy * H) at its zoom; a camera pan moves the view center at `camera.speed` widths/s and a
  zoom multiplies by ZOOM_CHANGE**(+-t / clip duration), both timed from the start of each shot.
  Objects keep moving across cuts (no time reset).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kinema.world.palette import DIRECTIONS, FLOOR_FRACTION, SIZES
from kinema.world.scene import (
    FALL_RESTITUTION,
    GRAVITY,
    GRAVITY_MOTIONS,
    PUSH_RESTITUTION,
    RESTITUTION,
    SIZE_CHANGE,
    ObjectSpec,
    Scene,
)

REST_HEIGHT = 0.5  # px: a bounce apex lower than this is invisible, so the object rests
RETURN_MARGIN = 0.05  # of the shorter canvas side: how far past the edge a "return" turns back
ZOOM_CHANGE = 1.5  # zoom_in / zoom_out factor over the clip
THROW_MIN_SPAN = 0.25  # of the width: a throw from mid-canvas still flies this far
# Motions that move in straight lines (or not at all) and so can take part in collide / push.
LINEAR_MOTIONS: frozenset[str] = frozenset({"still", "slide", "enter", "exit", "spin", "grow", "shrink"})
SQRT3 = math.sqrt(3.0)


def size_px(obj: ObjectSpec, scene: Scene) -> float:
    """Diameter or side of `obj` in world px, before grow/shrink."""
    return SIZES[obj.size] * min(scene.width, scene.height)


def half_extents(shape: str, size: float) -> tuple[float, float, float]:
    """(half width, extent above the center, extent below the center) at rotation 0.

    A triangle is centered on its centroid, so its apex is further from the center than its base:
    resting it on the floor with "half side" would leave it floating.
    """
    if shape == "triangle":
        return size / 2, size / SQRT3, size / (2 * SQRT3)
    return size / 2, size / 2, size / 2


def floor_top(scene: Scene) -> float:
    """World y of the surface objects rest on: the floor band's top, or the bottom edge."""
    return scene.height * (1 - FLOOR_FRACTION) if scene.floor else float(scene.height)


def clip_duration(scene: Scene) -> float:
    """Time of the last frame, (frames - 1) / fps: grow/shrink and zooms complete by then."""
    return (scene.frames - 1) / scene.fps


def frame_times(scene: Scene) -> np.ndarray:
    return np.arange(scene.frames, dtype=np.float64) / scene.fps


@dataclass(frozen=True)
class Trajectories:
    """Per-time state of every object, world px (float64 numpy arrays)."""

    times: np.ndarray  # (T,) seconds
    center: np.ndarray  # (T, N, 2) x, y
    scale: np.ndarray  # (T, N) size multiplier (grow/shrink)
    rotation: np.ndarray  # (T, N) radians, increasing = clockwise on screen (y down)

    def trail(self, index: int, frame: int) -> np.ndarray:
        """The polyline object `index` has painted by `frame`: its centers at frames 0..frame, (k, 2)."""
        return self.center[: frame + 1, index]


def trajectories(scene: Scene) -> Trajectories:
    """Every object's state at the frame times i / fps."""
    return motion_at(scene, frame_times(scene))


def motion_at(scene: Scene, times: np.ndarray) -> Trajectories:
    """Every object's state at arbitrary `times` (seconds, any order): the closed-form physics."""
    if not scene.placed:
        raise ValueError("scene is not placed (an object has x, y or speed None); call kinema.world.sample.place first")
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    n = len(scene.objects)
    center = np.zeros((len(t), n, 2))
    scale = np.ones((len(t), n))
    rotation = np.zeros((len(t), n))
    linear = _linear_paths(scene)
    dur = clip_duration(scene)
    for i, obj in enumerate(scene.objects):
        if i in linear:
            center[:, i] = _eval_linear(*linear[i], t)
        elif obj.motion == "return":
            center[:, i] = _return_path(scene, obj, t)
        elif obj.motion in GRAVITY_MOTIONS:
            center[:, i] = _gravity_path(scene, obj, t)
        else:  # pragma: no cover - every motion is handled above
            raise ValueError(f"motion {obj.motion!r} has no physics")
        if obj.motion == "spin":
            sign = 1.0 if obj.direction == "clockwise" else -1.0
            rotation[:, i] = sign * 2 * math.pi * float(obj.speed) * t
        elif obj.motion in ("grow", "shrink") and dur > 0:
            sign = 1.0 if obj.motion == "grow" else -1.0
            scale[:, i] = SIZE_CHANGE ** (sign * t / dur)
    return Trajectories(times=t, center=center, scale=scale, rotation=rotation)


# --- straight lines and the collide / push events between them ---------------------------------


def _velocity(scene: Scene, obj: ObjectSpec) -> np.ndarray:
    """px/s of a translating object; stationary motions have none (spin speed is turns/s)."""
    if obj.motion in ("slide", "enter", "exit", "return"):
        dx, dy = DIRECTIONS[obj.direction]  # type: ignore[index]
        return float(obj.speed) * scene.width * np.array([dx, dy])
    return np.zeros(2)


def _linear_paths(scene: Scene) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Piecewise-linear paths (break times (K,), positions (K, 2), velocities (K, 2)) per object.

    Event-driven: the earliest pending collide/push contact is applied, then the next is searched
    from the new velocities; each interaction fires at most once, so this ends.
    """
    w, h = scene.width, scene.height
    pos: dict[int, np.ndarray] = {}
    vel: dict[int, np.ndarray] = {}
    pieces: dict[int, list[tuple[float, np.ndarray, np.ndarray]]] = {}
    for i, obj in enumerate(scene.objects):
        if obj.motion in LINEAR_MOTIONS:
            pos[i] = np.array([float(obj.x) * w, float(obj.y) * h])
            vel[i] = _velocity(scene, obj)
            pieces[i] = [(0.0, pos[i].copy(), vel[i].copy())]
    pending = []
    for it in scene.interactions:
        if it.kind not in ("collide", "push"):
            continue
        for index in (it.subject, it.other):
            if index not in pos:
                raise ValueError(
                    f"{it.kind} needs objects moving in straight lines ({', '.join(sorted(LINEAR_MOTIONS))}); "
                    f"object {index} has motion {scene.objects[index].motion!r}"
                )
        if it.kind == "push" and np.any(vel[it.other]):
            raise ValueError(f"push needs a still object to strike; object {it.other} moves ({scene.objects[it.other].motion})")
        pending.append(it)
    radius = {i: size_px(o, scene) / 2 for i, o in enumerate(scene.objects)}
    now = 0.0
    while pending:
        best = None
        for it in pending:
            a, b = it.subject, it.other
            dt = _contact_time(pos[a] - pos[b], vel[a] - vel[b], radius[a] + radius[b])
            if dt is not None and (best is None or dt < best[0]):
                best = (dt, it)
        if best is None:
            break
        dt, it = best
        pending.remove(it)
        now += dt
        for i in pos:
            pos[i] = pos[i] + vel[i] * dt
        a, b = it.subject, it.other
        if it.kind == "collide":
            # Equal masses, elastic: exchange the velocity components along the line of centers.
            normal = (pos[a] - pos[b]) / max(float(np.linalg.norm(pos[a] - pos[b])), 1e-9)
            exchange = float(np.dot(vel[a] - vel[b], normal)) * normal
            vel[a], vel[b] = vel[a] - exchange, vel[b] + exchange
        else:
            e = PUSH_RESTITUTION
            vel[a], vel[b] = vel[a] * (1 - e) / 2, vel[b] + vel[a] * (1 + e) / 2
        for i in (a, b):
            pieces[i].append((now, pos[i].copy(), vel[i].copy()))
    return {
        i: (np.array([p[0] for p in ps]), np.array([p[1] for p in ps]), np.array([p[2] for p in ps]))
        for i, ps in pieces.items()
    }


def _contact_time(gap: np.ndarray, closing: np.ndarray, reach: float) -> float | None:
    """Smallest dt >= 0 with |gap + closing*dt| = reach while approaching, or None."""
    approach = float(np.dot(gap, closing))
    if approach >= 0:  # separating or at rest relative to each other
        return None
    qa = float(np.dot(closing, closing))
    qc = float(np.dot(gap, gap)) - reach * reach
    if qc <= 0:  # already touching and approaching: contact now
        return 0.0
    disc = approach * approach - qa * qc  # quarter discriminant (b = 2 * approach)
    if disc < 0:
        return None  # they miss each other
    return (-approach - math.sqrt(disc)) / qa


def _eval_linear(breaks: np.ndarray, points: np.ndarray, velocities: np.ndarray, t: np.ndarray) -> np.ndarray:
    if len(breaks) == 1:  # no event: one straight line
        return points[0] + velocities[0] * t[:, None]
    k = np.clip(np.searchsorted(breaks, t, side="right") - 1, 0, len(breaks) - 1)
    return points[k] + velocities[k] * (t - breaks[k])[:, None]


def _return_path(scene: Scene, obj: ObjectSpec, t: np.ndarray) -> np.ndarray:
    """Slides toward `direction` until fully outside by the margin, then comes back at the same speed."""
    start = np.array([float(obj.x) * scene.width, float(obj.y) * scene.height])
    velocity = _velocity(scene, obj)
    half = size_px(obj, scene) / 2 + RETURN_MARGIN * min(scene.width, scene.height)
    turn = math.inf
    for axis, extent in ((0, scene.width), (1, scene.height)):
        v = velocity[axis]
        if v > 0:
            turn = min(turn, (extent + half - start[axis]) / v)
        elif v < 0:
            turn = min(turn, (start[axis] + half) / -v)
    turn = max(turn, 0.0)
    travelled = np.where(t <= turn, t, 2 * turn - t) if math.isfinite(turn) else t
    return start + velocity * travelled[:, None]


# --- gravity: bounce, fall, throw ----------------------------------------------------------------


def throw_launch(scene: Scene, obj: ObjectSpec) -> tuple[float, float]:
    """(vx, vy) px/s of a throw: the arc lands back at its launch height after crossing the canvas.

    The span is the launch x mirrored about the middle (at least THROW_MIN_SPAN of the width); the
    flight time is span / |vx|, shortened if the apex would leave the top of the canvas.
    """
    w, h = scene.width, scene.height
    g = GRAVITY * h
    x0, y0 = float(obj.x) * w, float(obj.y) * h
    vx = float(obj.speed) * w * (1.0 if obj.direction == "right" else -1.0)
    span = max(abs(w - 2 * x0), THROW_MIN_SPAN * w)
    _, top, bottom = half_extents(obj.shape, size_px(obj, scene))
    y_launch = min(y0, floor_top(scene) - bottom)
    apex_room = max(y_launch - top - 1.0, 0.0)
    flight = min(span / abs(vx) if vx else math.inf, math.sqrt(8 * apex_room / g))
    return vx, -g * flight / 2


def _gravity_path(scene: Scene, obj: ObjectSpec, t: np.ndarray) -> np.ndarray:
    w, h = scene.width, scene.height
    size = size_px(obj, scene)
    half_w, _, bottom = half_extents(obj.shape, size)
    x0, y0 = float(obj.x) * w, float(obj.y) * h
    if obj.motion == "throw":
        vx, vy = throw_launch(scene, obj)
        e = RESTITUTION
    else:
        drift = obj.direction is not None and obj.motion == "bounce"
        vx = float(obj.speed) * w * (1.0 if obj.direction == "right" else -1.0) if drift else 0.0
        vy = 0.0
        e = RESTITUTION if obj.motion == "bounce" else FALL_RESTITUTION
    x = reflect(x0 + vx * t, half_w, w - half_w)
    y = ballistic(y0, vy, GRAVITY * h, floor_top(scene) - bottom, e, t)
    return np.stack([x, y], axis=-1)


def reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold free motion into [lo, hi] as if reflected by walls at both ends (a triangle wave)."""
    if hi <= lo:
        return np.full_like(x, (lo + hi) / 2)
    span = hi - lo
    u = np.mod(x - lo, 2 * span)
    return lo + np.where(u <= span, u, 2 * span - u)


def bounce_segments(y0: float, vy0: float, g: float, y_rest: float, e: float) -> np.ndarray:
    """Flight segments (start time, y, vy, gravity) of a body dropped/thrown above a floor at y_rest.

    Between contacts the body follows y = y + vy*tau + gravity*tau^2/2; each contact reverses the
    impact speed times `e`; the last segment is at rest (vy = gravity = 0).
    """
    segments = []
    start, y, vy = 0.0, min(y0, y_rest), vy0
    for _ in range(200):  # apex decays geometrically, so a few dozen bounces at most
        drop = y_rest - y
        # Positive root of y + vy*tau + g*tau^2/2 = y_rest.
        tau = (-vy + math.sqrt(max(vy * vy + 2 * g * drop, 0.0))) / g
        segments.append((start, y, vy, g))
        rebound = e * (vy + g * tau)
        start += tau
        if rebound * rebound / (2 * g) < REST_HEIGHT:
            break
        y, vy = y_rest, -rebound
    segments.append((start, y_rest, 0.0, 0.0))
    return np.array(segments)


def ballistic(y0: float, vy0: float, g: float, y_rest: float, e: float, t: np.ndarray) -> np.ndarray:
    """Height (world y) at times `t` of the body of `bounce_segments`."""
    seg = bounce_segments(y0, vy0, g, y_rest, e)
    k = np.clip(np.searchsorted(seg[:, 0], t, side="right") - 1, 0, len(seg) - 1)
    tau = t - seg[k, 0]
    return seg[k, 1] + seg[k, 2] * tau + 0.5 * seg[k, 3] * tau * tau


# --- camera and shots ----------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """Per-frame view transform: screen = (world - center) * zoom + canvas_center."""

    center: np.ndarray  # (T, 2) world px shown at the middle of the screen
    zoom: np.ndarray  # (T,)
    shot: np.ndarray  # (T,) int index into scene.shots
    canvas_center: np.ndarray  # (2,) screen px: (W/2, H/2)

    @property
    def offset(self) -> np.ndarray:
        """(T, 2) screen px of the world origin."""
        return self.canvas_center - self.center * self.zoom[:, None]

    def to_screen(self, points: np.ndarray) -> np.ndarray:
        """World px (T, ..., 2) to screen px, frame by frame."""
        extra = (1,) * (points.ndim - 2)
        center = self.center.reshape(len(self.zoom), *extra, 2)
        zoom = self.zoom.reshape(len(self.zoom), *extra, 1)
        return (points - center) * zoom + self.canvas_center


def camera_view(scene: Scene) -> View:
    w, h = scene.width, scene.height
    frames = np.arange(scene.frames)
    starts = np.array([s.start for s in scene.shots])
    shot = np.searchsorted(starts, frames, side="right") - 1
    since_cut = (frames - starts[shot]) / scene.fps  # camera motion restarts with each shot's framing
    framing = np.array([[s.cx * w, s.cy * h, s.zoom] for s in scene.shots])[shot]  # (T, 3)
    center, zoom = framing[:, :2].copy(), framing[:, 2].copy()
    motion, dur = scene.camera.motion, clip_duration(scene)
    if motion in ("pan_left", "pan_right"):
        center[:, 0] += (1.0 if motion == "pan_right" else -1.0) * scene.camera.speed * w * since_cut
    elif motion in ("zoom_in", "zoom_out") and dur > 0:
        zoom = zoom * ZOOM_CHANGE ** ((1.0 if motion == "zoom_in" else -1.0) * since_cut / dur)
    return View(center=center, zoom=zoom, shot=shot.astype(np.int64), canvas_center=np.array([w / 2, h / 2]))
