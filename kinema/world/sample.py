"""Seeded random scenes: placing under-specified objects, and the training distributions.

Contract:
- `place(scene, rng)` fills every object's None x / y / speed consistently with its motion and
  keeps every field already given: slides start on the side opposite their direction and stay in
  frame; enter starts just outside its edge and ends inside; exit starts inside and leaves before
  the end; return leaves and is back inside by the end; still objects rest on the floor (or sit
  mid-canvas without one) without overlapping other stationary objects; bounce starts in the upper
  half, fall near the top, throw low on the side opposite its direction with an arc that stays in
  frame; interactions place their two objects on one line (collide: meeting head-on; push: the
  struck object still in the subject's path; pass: the subject crossing the other). A "still"
  object named as a mover in an interaction becomes a slide toward its partner.
- `sample_scene(rng, dist)` draws a placed, valid scene from a `SceneDistribution` (or the name of
  one in `DISTRIBUTIONS`); no two objects share both color and shape, so each is nameable.
All randomness comes from the numpy Generator passed in (an int seed is accepted), so a seed
fixes the scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from kinema.world.palette import BACKGROUNDS, COLORS, DIRECTIONS, OPPOSITE, SHAPES, SIZES, SPIN_DIRECTIONS, allowed
from kinema.world.physics import LINEAR_MOTIONS, RETURN_MARGIN, THROW_MIN_SPAN, floor_top, half_extents, motion_at, size_px, trajectories
from kinema.world.scene import (
    CAMERA_MOTIONS,
    DEFAULT_FPS,
    GRAVITY,
    INTERACTIONS,
    MOTIONS,
    SLIDE_SPEED_RANGE,
    SPIN_SPEED,
    Camera,
    Interaction,
    ObjectSpec,
    Scene,
    Shot,
    validate_canvas,
)

NOMINAL_DURATION = 4.0  # s: a 1-frame scene is placed as the first frame of a default clip
PLACE_TRIES = 40  # random tries for a non-overlapping spot before taking the best one seen
STATIONARY = frozenset({"still", "spin", "grow", "shrink"})
# Horizontal moves read most naturally (and keep clear of the floor), so they are drawn more often.
DIRECTION_WEIGHTS = {"left": 3, "right": 3, "up": 1, "down": 1, "up-left": 1, "up-right": 1, "down-left": 1, "down-right": 1}
SERVED_SIZES = ((64, 64), (96, 64), (64, 96), (112, 64))


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class _Room:
    """Canvas geometry for placement, in world px."""

    def __init__(self, scene: Scene) -> None:
        self.w, self.h = float(scene.width), float(scene.height)
        self.ground = floor_top(scene)
        self.floor = scene.floor
        self.duration = (scene.frames - 1) / scene.fps if scene.frames > 1 else NOMINAL_DURATION
        self.scene = scene

    def extents(self, obj: ObjectSpec) -> tuple[float, float, float]:
        return half_extents(obj.shape, size_px(obj, self.scene))

    def inside(self, obj: ObjectSpec) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest center keeping the object fully in frame and above the floor."""
        hw, top, bottom = self.extents(obj)
        lo = np.array([hw, top])
        return lo, np.maximum(np.array([self.w - hw, self.ground - bottom]), lo)


def place(scene: Scene, rng: np.random.Generator | int | None = None) -> Scene:
    """Fill every None x / y / speed of `scene` consistently with the motions (see module doc)."""
    rng = _generator(rng)
    room = _Room(scene)
    objects = list(scene.objects)
    for it in scene.interactions:
        _place_pair(room, objects, it, rng)
    for i, obj in enumerate(objects):
        if obj.placed:
            continue
        if obj.motion in STATIONARY:
            x, y, speed = _place_stationary(room, obj, objects, i, rng)
        elif obj.motion in ("bounce", "fall", "throw"):
            x, y, speed = _place_gravity(room, obj, rng)
        else:
            x, y, speed = _place_linear(room, obj, rng)
        objects[i] = _fill(room, obj, x, y, speed)
    return scene.with_(objects=tuple(objects))


def _fill(room: _Room, obj: ObjectSpec, x: float, y: float, speed: float) -> ObjectSpec:
    """Set only the fields that were None (px in, canvas fractions out)."""
    return replace(
        obj,
        x=obj.x if obj.x is not None else float(np.clip(x / room.w, -1.0, 2.0)),
        y=obj.y if obj.y is not None else float(np.clip(y / room.h, -1.0, 2.0)),
        speed=obj.speed if obj.speed is not None else float(np.clip(speed, 0.0, 2.0)),
    )


def _given(room: _Room, obj: ObjectSpec) -> list[float | None]:
    return [None if obj.x is None else obj.x * room.w, None if obj.y is None else obj.y * room.h]


def _pick(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def _place_linear(room: _Room, obj: ObjectSpec, rng: np.random.Generator) -> tuple[float, float, float]:
    """slide / enter / exit / return: propose a start and speed, keep the first that does what it says.

    Proposals are exact along one moving axis; a diagonal also moves along the other, which may
    leave the frame first, so enter / exit / return are checked against the physics and redrawn.
    """
    proposal = _propose_linear(room, obj, rng, 0)
    if obj.motion == "slide":
        return proposal
    for attempt in range(1, PLACE_TRIES):
        if _does_what_it_says(room, obj, *proposal):
            break
        proposal = _propose_linear(room, obj, rng, attempt)
    return proposal


def _does_what_it_says(room: _Room, obj: ObjectSpec, x: float, y: float, speed: float) -> bool:
    """enter: outside, then fully inside at the end; exit: inside, then gone; return: inside, out, back."""
    candidate = _fill(room, obj, x, y, speed)
    scene = room.scene.with_(objects=(candidate,), interactions=())
    # Judged at the frames the clip will show (a fast return can turn around between two frames).
    times = np.arange(scene.frames) / scene.fps if scene.frames > 1 else np.linspace(0.0, room.duration, 33)
    c = motion_at(scene, times).center[:, 0]
    lo, hi = room.inside(obj)
    hw, top, bottom = room.extents(obj)
    inside = np.all((c >= lo - 1e-6) & (c <= hi + 1e-6), axis=1)
    gone = (c[:, 0] < -hw) | (c[:, 0] > room.w + hw) | (c[:, 1] < -bottom) | (c[:, 1] > room.h + top)
    if obj.motion == "enter":
        return bool(gone[0] and inside[-1])
    if obj.motion == "exit":
        return bool(inside[0] and gone[-1])
    return bool(inside[0] and gone.any() and inside[-1])


def _propose_linear(room: _Room, obj: ObjectSpec, rng: np.random.Generator, attempt: int) -> tuple[float, float, float]:
    """One start and speed: the speed first, then starts that satisfy the motion along one axis."""
    d = np.array(DIRECTIONS[obj.direction])  # type: ignore[index]
    lo, hi = room.inside(obj)
    hw, top, bottom = room.extents(obj)
    out_lo = np.array([-hw - 1.0, -bottom - 1.0])  # centers fully past the left / top edge
    out_hi = np.array([room.w + hw + 1.0, room.h + top + 1.0])  # fully past the right / bottom edge
    given = _given(room, obj)
    per_speed = room.w * room.duration * np.abs(d)  # px travelled per unit speed, per axis
    moving = [a for a in (0, 1) if d[a] != 0]
    slow, fast = SLIDE_SPEED_RANGE
    start: list[float | None] = list(given)
    speed = obj.speed
    if obj.motion == "slide":
        if speed is None:
            # The start first, anywhere the slowest slide still ends inside; then a speed that
            # fits. Picking the speed first put every slide on the far side from its direction,
            # so captions' start places ("on the left") fully gave away the way ("to the right")
            # and a model could learn either word for both (benchmarks/direction_probe.py --start).
            for a in moving:
                if start[a] is None:
                    least = slow * per_speed[a]
                    start[a] = _pick(rng, lo[a], max(lo[a], hi[a] - least)) if d[a] > 0 \
                        else _pick(rng, min(hi[a], lo[a] + least), hi[a])
            cap = min((hi[a] - start[a] if d[a] > 0 else start[a] - lo[a]) / per_speed[a] for a in moving)  # type: ignore[operator]
            speed = _pick(rng, slow, min(fast, cap)) if cap >= slow else max(cap, 0.0)
        for a in moving:
            if start[a] is None:  # the speed was given: start on the far side, with a little slack
                travel = speed * per_speed[a]
                first, last = (lo[a], hi[a] - travel) if d[a] > 0 else (lo[a] + travel, hi[a])
                offset = rng.uniform(0, 0.4) * max(last - first, 0.0)
                start[a] = first + offset if d[a] > 0 else max(last, first) - offset
    elif obj.motion == "enter":
        for a in moving:
            if start[a] is None:
                start[a] = out_lo[a] if d[a] > 0 else out_hi[a]
        if speed is None:
            need = [((lo[a] - start[a]) if d[a] > 0 else (start[a] - hi[a])) / per_speed[a] for a in moving]
            most = [((hi[a] - start[a]) if d[a] > 0 else (start[a] - lo[a])) / per_speed[a] for a in moving]
            low, high = max(need), min(most)
            speed = _pick(rng, max(low, slow), min(high, fast)) if max(low, slow) <= min(high, fast) else max(low, 0.0)
    else:  # exit / return: one moving axis (alternating between attempts) decides when it is out
        a = moving[attempt % len(moving)]
        extent = room.w if a == 0 else room.h
        forward = d[a] > 0
        # Work in u, the distance travelled toward the far edge (mirrored when moving left/up).
        lo_u, hi_u = (lo[a], hi[a]) if forward else (extent - hi[a], extent - lo[a])
        if obj.motion == "exit":
            gone_u = out_hi[a] if forward else extent - out_lo[a]
            if speed is None:  # fast enough to leave even from the far side of the frame
                speed = max(_pick(rng, slow, fast), (gone_u - hi_u) / per_speed[a])
            travel = speed * per_speed[a]
            first_u, last_u = max(lo_u, gone_u - travel), hi_u
        else:
            turn_u = extent + size_px(obj, room.scene) / 2 + RETURN_MARGIN * min(room.w, room.h)
            if speed is None:  # out and fully back inside by the end, but not out through the near side
                least, most = (2 * turn_u - 2 * hi_u) / per_speed[a], (2 * turn_u - 2 * lo_u) / per_speed[a]
                speed = _pick(rng, max(least, slow), min(most, fast)) if max(least, slow) <= min(most, fast) else float(np.clip(_pick(rng, slow, fast), least, most))
            travel = speed * per_speed[a]
            first_u, last_u = max(lo_u, 2 * turn_u - hi_u - travel), min(hi_u, 2 * turn_u - lo_u - travel)
        if start[a] is None:
            u = _pick(rng, first_u, last_u) if last_u >= first_u else last_u
            start[a] = u if forward else extent - u
        for b in moving:
            if start[b] is None:
                start[b] = _pick(rng, lo[b], hi[b])
    for a in (0, 1):
        if start[a] is None:  # the axis it does not move along
            on_floor = a == 1 and room.floor and rng.random() < 0.5
            start[a] = hi[1] if on_floor else _pick(rng, lo[a], hi[a]) if a == 0 else _pick(rng, lo[1], max(lo[1], min(hi[1], 0.7 * room.h)))
    return float(start[0]), float(start[1]), float(speed)  # type: ignore[arg-type]


def _place_gravity(room: _Room, obj: ObjectSpec, rng: np.random.Generator) -> tuple[float, float, float]:
    hw, top, bottom = room.extents(obj)
    rest = room.ground - bottom
    x, y = _given(room, obj)
    if obj.motion == "throw":
        if x is None:
            x = _pick(rng, hw + 1, max(hw + 1, 0.25 * room.w)) if obj.direction == "right" else _pick(rng, min(room.w - hw - 1, 0.75 * room.w), room.w - hw - 1)
        if y is None:
            y = max(top + 1.0, rest - rng.uniform(0.0, 0.15) * room.h)
        speed = obj.speed
        if speed is None:
            # The slowest throw whose apex stays within 80% of the room above it (see physics.throw_launch).
            span = max(abs(room.w - 2 * x), THROW_MIN_SPAN * room.w)
            room_above = max(min(y, rest) - top - 1.0, 1.0)
            flight = math.sqrt(8 * 0.8 * room_above / (GRAVITY * room.h))
            speed = span / flight / room.w * rng.uniform(1.0, 1.25)
        return x, y, speed
    if x is None:
        x = _pick(rng, hw, room.w - hw)
    if y is None:  # fall: near the top; bounce: anywhere in the upper half
        lowest = top + 1.0 + 0.1 * room.h if obj.motion == "fall" else max(0.5 * room.h, top + 1.0)
        y = min(_pick(rng, top + 1.0, lowest), rest)
    drift = obj.motion == "bounce" and obj.direction is not None
    return x, y, (_pick(rng, 0.1, 0.3) if drift else 0.0) if obj.speed is None else obj.speed


def _reach(room: _Room, obj: ObjectSpec) -> tuple[float, float, float]:
    """(half width, above, below) the object may need while it stays put: spin turns, grow doubles."""
    hw, top, bottom = room.extents(obj)
    size = size_px(obj, room.scene)
    if obj.motion == "spin":
        r = size / math.sqrt(3) if obj.shape == "triangle" else size / math.sqrt(2)
        return r, r, r
    if obj.motion == "grow":
        return 2 * hw, 2 * top, 2 * bottom
    return hw, top, bottom


def _place_stationary(
    room: _Room, obj: ObjectSpec, objects: list[ObjectSpec], index: int, rng: np.random.Generator
) -> tuple[float, float, float]:
    hw, top, bottom = _reach(room, obj)
    x, y = _given(room, obj)
    if y is None:
        if room.floor:
            y = room.ground - bottom - (0.5 if obj.motion == "spin" else 0.0)
        else:
            y = _pick(rng, max(top, 0.35 * room.h), max(top, min(room.h - bottom, 0.65 * room.h)))
    if x is None:
        others = []
        for j, other in enumerate(objects):
            # Stationary objects placed before this one, or whose x was given (placed after it).
            if j != index and other.motion in STATIONARY and other.x is not None:
                ohw, otop, obottom = _reach(room, other)
                ox, oy = other.x * room.w, (y if other.y is None else other.y * room.h)
                if oy - otop < y + bottom and y - top < oy + obottom:  # their heights overlap
                    others.append((ox, ohw))
        best, best_gap = None, -math.inf
        for _ in range(PLACE_TRIES):
            candidate = _pick(rng, hw, room.w - hw)
            gap = min((abs(candidate - ox) - ohw - hw for ox, ohw in others), default=math.inf)
            if gap > best_gap:
                best, best_gap = candidate, gap
            if gap >= 1.0:
                break
        x = best
    speed = SPIN_SPEED * rng.uniform(0.8, 1.2) if obj.motion == "spin" else 0.0
    return float(x), float(y), speed  # type: ignore[arg-type]


def _place_pair(room: _Room, objects: list[ObjectSpec], it: Interaction, rng: np.random.Generator) -> None:
    """Put an interaction's two objects on one line through a point near the middle of the canvas."""
    a, b = objects[it.subject], objects[it.other]
    if a.motion == "still":
        direction = OPPOSITE[b.direction] if it.kind == "collide" and b.motion == "slide" else str(rng.choice(["left", "right"]))
        a = replace(a, motion="slide", direction=direction)
    if a.motion != "slide":
        if it.kind in ("collide", "push") and a.motion not in LINEAR_MOTIONS:
            raise ValueError(f"{it.kind} needs a subject moving in a straight line; object {it.subject} has motion {a.motion!r}")
        return  # no line to set up (a pass only orders drawing): each object is placed on its own
    if it.kind == "collide" and b.motion == "still":
        b = replace(b, motion="slide", direction=OPPOSITE[a.direction])  # type: ignore[index]
    if it.kind == "push" and b.motion not in STATIONARY:
        raise ValueError(f"push needs a still object to strike; object {it.other} has motion {b.motion!r}")
    d = np.array(DIRECTIONS[a.direction])  # type: ignore[index]
    ra, rb = size_px(a, room.scene) / 2, size_px(b, room.scene) / 2
    slow, fast = SLIDE_SPEED_RANGE
    vb = b.speed if b.speed is not None else (_pick(rng, slow, fast) if b.motion == "slide" else 0.0)
    if b.motion == "spin" and b.speed is None:
        vb = SPIN_SPEED
    # Where the subject meets (or crosses) the other, and when.
    lo_a, hi_a = room.inside(a)
    lo_b, hi_b = room.inside(b)
    lo = np.maximum(lo_a, lo_b)
    hi = np.maximum(np.minimum(hi_a, hi_b), lo)
    meet = np.array([_pick(rng, 0.4, 0.6) * room.w, 0.0])
    crossing = it.kind in ("pass_behind", "pass_in_front")
    on_floor = room.floor and d[1] == 0 and (crossing or rng.random() < 0.5)
    meet[1] = hi[1] if on_floor else np.clip(_pick(rng, 0.35, 0.6) * room.h, lo[1], hi[1])
    when = room.duration * (_pick(rng, 0.4, 0.6) if crossing else _pick(rng, 0.3, 0.5))
    # Centers at `when`: touching (collide, push) or on top of each other (pass).
    reach_a, reach_b = (0.0, 0.0) if crossing else (ra, rb)
    # Slow the movers (or, for a given speed, meet earlier) so that each starts inside the frame.
    room_a = max(_ray_room(meet, -d, lo_a, hi_a) - reach_a, 0.0)
    room_b = max(_ray_room(meet, d, lo_b, hi_b) - reach_b, 0.0)
    if a.speed is None:
        va = min(_pick(rng, slow, fast), room_a / (room.w * when))
    else:
        va = a.speed
        when = min(when, room_a / max(va * room.w, 1e-9))
    if it.kind == "collide" and b.speed is None:
        vb = min(vb, room_b / (room.w * when))
    va_px, vb_px = va * room.w, (vb * room.w if it.kind == "collide" else 0.0)
    if vb_px > 0:
        when = min(when, room_b / vb_px)
    a_at = meet - d * (reach_a + va_px * when)
    b_at = meet + d * (reach_b + vb_px * when)
    given_a, given_b = _given(room, a), _given(room, b)
    if given_a != [None, None] and given_b == [None, None]:  # anchor on the given subject
        shift = np.array([g if g is not None else p for g, p in zip(given_a, a_at)]) - a_at
        a_at, b_at = a_at + shift, b_at + shift
    elif given_b != [None, None]:
        shift = np.array([g if g is not None else p for g, p in zip(given_b, b_at)]) - b_at
        a_at, b_at = a_at + shift, b_at + shift
    objects[it.subject] = _fill(room, a, a_at[0], a_at[1], va)
    objects[it.other] = _fill(room, b, b_at[0], b_at[1], vb)


def _ray_room(start: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """How far one can go from `start` along unit `d` and stay within [lo, hi]."""
    reach = math.inf
    for a in (0, 1):
        if d[a] > 0:
            reach = min(reach, (hi[a] - start[a]) / d[a])
        elif d[a] < 0:
            reach = min(reach, (lo[a] - start[a]) / d[a])
    return max(reach, 0.0)


# --- distributions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SceneDistribution:
    """What `sample_scene` draws from. Repeat a value in a choice tuple to weight it."""

    sizes: tuple[tuple[int, int], ...] = ((64, 64),)  # canvas (width, height) choices
    frames: tuple[int, ...] = (33,)  # clip length choices
    fps: float = DEFAULT_FPS
    min_objects: int = 1
    max_objects: int = 1
    motions: tuple[str, ...] = ("still", "slide")  # motions of objects outside interactions
    interactions: tuple[str, ...] = INTERACTIONS
    camera_motions: tuple[str, ...] = CAMERA_MOTIONS[1:]  # used with probability p_camera
    backgrounds: tuple[str, ...] = tuple(BACKGROUNDS)
    p_interaction: float = 0.0  # chance of one interaction when there are 2+ objects
    p_camera: float = 0.0  # chance the camera moves
    p_multishot: float = 0.0  # chance of 2-3 shots joined by cuts (clips of 9+ frames)
    p_trail: float = 0.0  # chance each moving object leaves a trail
    p_floor: float = 0.5

    def __post_init__(self) -> None:
        for width, height in self.sizes:
            validate_canvas(width, height, 1)
        for frames in self.frames:
            validate_canvas(32, 32, frames)
        if not self.sizes or not self.frames or not self.motions or not self.backgrounds:
            raise ValueError("sizes, frames, motions and backgrounds each need at least one choice")
        for name, values, options in (
            ("motion", self.motions, MOTIONS),
            ("interaction", self.interactions, INTERACTIONS),
            ("camera motion", self.camera_motions, CAMERA_MOTIONS),
            ("background", self.backgrounds, tuple(BACKGROUNDS)),
        ):
            for value in values:
                if value not in options:
                    raise ValueError(f"{name} {value!r} is not allowed; use one of: {allowed(options)}")
        if not 1 <= self.min_objects <= self.max_objects <= 3:
            raise ValueError(f"objects {self.min_objects}..{self.max_objects} must satisfy 1 <= min <= max <= 3")
        for name in ("p_interaction", "p_camera", "p_multishot", "p_trail", "p_floor"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} {getattr(self, name)} must be a probability in [0, 1]")


DISTRIBUTIONS: dict[str, SceneDistribution] = {
    # The curriculum start: one object, still or sliding, still camera, one shot.
    "simple": SceneDistribution(),
    # Every single-object motion, up to two objects, several canvases; no camera work yet.
    "medium": SceneDistribution(
        sizes=SERVED_SIZES,
        frames=(17, 33),
        max_objects=2,
        motions=("still", "slide", "bounce", "fall", "spin", "grow", "shrink", "enter", "exit"),
        p_trail=0.1,
    ),
    # Everything in shared/WORLD.md.
    "full": SceneDistribution(
        sizes=SERVED_SIZES,
        frames=(1, 17, 33, 33, 65),
        max_objects=3,
        motions=MOTIONS,
        p_interaction=0.35,
        p_camera=0.3,
        p_multishot=0.25,
        p_trail=0.2,
    ),
}


def sample_scene(
    rng: np.random.Generator | int | None = None,
    dist: str | SceneDistribution = "full",
    width: int | None = None,
    height: int | None = None,
    frames: int | None = None,
) -> Scene:
    """A random placed scene from `dist`; width / height / frames override its choices."""
    rng = _generator(rng)
    if isinstance(dist, str):
        if dist not in DISTRIBUTIONS:
            raise ValueError(f"distribution {dist!r} is unknown; use one of: {allowed(DISTRIBUTIONS)}")
        dist = DISTRIBUTIONS[dist]
    w, h = dist.sizes[int(rng.integers(len(dist.sizes)))]
    w, h = width or w, height or h
    n_frames = frames or dist.frames[int(rng.integers(len(dist.frames)))]
    validate_canvas(w, h, n_frames)
    count = int(rng.integers(dist.min_objects, dist.max_objects + 1))
    looks = [(c, s) for c in COLORS for s in SHAPES]
    chosen = [looks[i] for i in rng.choice(len(looks), size=count, replace=False)]
    objects = [_random_object(rng, dist, color, shape) for color, shape in chosen]
    interactions: tuple[Interaction, ...] = ()
    if count >= 2 and dist.interactions and rng.random() < dist.p_interaction:
        kind = str(rng.choice(dist.interactions))
        subject, other = (int(i) for i in rng.permutation(count)[:2])
        side = str(rng.choice(["left", "right"]))
        objects[subject] = replace(objects[subject], motion="slide", direction=side, speed=None)
        if kind == "collide":
            objects[other] = replace(objects[other], motion="slide", direction=OPPOSITE[side])
        else:
            objects[other] = replace(objects[other], motion="still", direction=None, trail=False)
        interactions = (Interaction(kind, subject, other),)
    camera = Camera()
    if dist.camera_motions and rng.random() < dist.p_camera:
        camera = Camera(motion=str(rng.choice(dist.camera_motions)), speed=_pick(rng, 0.1, 0.2))
    scene = Scene(
        width=w,
        height=h,
        frames=n_frames,
        fps=dist.fps,
        background=str(rng.choice(dist.backgrounds)),
        floor=bool(rng.random() < dist.p_floor),
        objects=tuple(objects),
        interactions=interactions,
        camera=camera,
        texture_seed=int(rng.integers(2**31)),
    )
    scene = place(scene, rng)
    if n_frames >= 9 and rng.random() < dist.p_multishot:
        scene = scene.with_(shots=_random_shots(rng, scene))
    return scene


def _random_object(rng: np.random.Generator, dist: SceneDistribution, color: str, shape: str) -> ObjectSpec:
    motions = [m for m in dist.motions if not (m == "spin" and shape == "circle")] or ["still"]
    motion = str(rng.choice(motions))
    direction: str | None = None
    if motion in ("slide", "enter", "exit", "return"):
        names = list(DIRECTION_WEIGHTS)
        weights = np.array([DIRECTION_WEIGHTS[n] for n in names], dtype=np.float64)
        direction = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    elif motion == "bounce":
        direction = [None, "left", "right"][int(rng.integers(3))]
    elif motion == "throw":
        direction = str(rng.choice(["left", "right"]))
    elif motion == "spin":
        direction = str(rng.choice(SPIN_DIRECTIONS))
    moves = motion not in STATIONARY
    return ObjectSpec(
        color=color,
        shape=shape,
        size=str(rng.choice(list(SIZES))),
        motion=motion,
        direction=direction,
        trail=bool(moves and rng.random() < dist.p_trail),
    )


def _random_shots(rng: np.random.Generator, scene: Scene) -> tuple[Shot, ...]:
    """2-3 shots: later ones a close-up near an object in view at the cut, or a wide view."""
    count = int(rng.integers(2, 4)) if scene.frames >= 15 else 2
    bounds = np.linspace(0, scene.frames, count + 1)
    starts = [0] + [int(round(b + rng.uniform(-0.1, 0.1) * scene.frames / count)) for b in bounds[1:-1]]
    starts = [0] + sorted({min(max(s, 1), scene.frames - 1) for s in starts[1:]})
    centers = trajectories(scene).center  # world px
    shots = [Shot()]
    for start in starts[1:]:
        in_view = [
            p for p in centers[start]
            if 0.1 * scene.width < p[0] < 0.9 * scene.width and 0.1 * scene.height < p[1] < 0.9 * scene.height
        ]
        if in_view and rng.random() < 0.5:
            p = in_view[int(rng.integers(len(in_view)))]
            cx = float(np.clip(p[0] / scene.width + rng.uniform(-0.05, 0.05), 0.25, 0.75))
            cy = float(np.clip(p[1] / scene.height + rng.uniform(-0.05, 0.05), 0.25, 0.75))
            shots.append(Shot(start=start, zoom=_pick(rng, 1.4, 1.8), cx=cx, cy=cy))
        else:
            shots.append(Shot(start=start, zoom=_pick(rng, 0.6, 0.8), cx=_pick(rng, 0.45, 0.55), cy=_pick(rng, 0.45, 0.55)))
    return tuple(shots)
