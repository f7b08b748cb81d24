"""Where objects start and how fast they go, in caption words: start regions and speed words.

Contract: a caption names where an object starts as a horizontal third of the canvas (left /
center / right) and a vertical third of the space above the floor (top / middle / bottom), or
"floor" when it rests on the floor; and a slide's speed as slow / fast only when it is clearly at
one end of its range. `start_region` and `speed_word` read them off a placed object (the captioner);
`region_point` and `SPEED_POINTS` turn them back into numbers (the parser). Each region's point
classifies back to that region for every size, shape, motion and canvas, and each speed point to
its word: that is what lets every caption parse back to its scene's facts.
"""

from __future__ import annotations

import math

from kinema.world.palette import FLOOR_FRACTION, SIZES
from kinema.world.scene import GRAVITY_MOTIONS, TRANSLATING, ObjectSpec, Scene

H_POINTS: dict[str, float] = {"left": 1 / 6, "center": 1 / 2, "right": 5 / 6}
REST_TOLERANCE_PX = 1.5  # an object within this of its resting height "rests on the floor"
SPIN_CLEARANCE_PX = 0.5  # kinema.world.sample lifts a spinning shape this far off the floor


def floor_top(floor: bool) -> float:
    """The surface objects rest on, as a fraction of the height: the floor band's top or the bottom edge."""
    return 1.0 - FLOOR_FRACTION if floor else 1.0


def resting_y(shape: str, size: str, motion: str, width: int, height: int) -> float:
    """Center y (fraction of height) at which an object sits on the floor while it stays put.

    Mirrors kinema.world.physics.half_extents and the placement in kinema.world.sample: a triangle is
    centered on its centroid, a spinning shape sweeps its circumradius, a growing one ends twice as big.
    """
    side = SIZES[size] * min(width, height)
    if motion == "spin":
        below = (side / math.sqrt(3) if shape == "triangle" else side / math.sqrt(2)) + SPIN_CLEARANCE_PX
    else:
        below = side / (2 * math.sqrt(3)) if shape == "triangle" else side / 2
        below *= 2 if motion == "grow" else 1
    return floor_top(True) - below / height


def start_region(scene: Scene, obj: ObjectSpec) -> tuple[str, str] | None:
    """(horizontal, vertical) region where `obj` starts, or None when unplaced or entering.

    Vertical is "floor" when a non-falling object rests on the floor; an object under gravity that
    starts on the floor is at the "bottom" (its caption says it bounces on the floor anyway).
    An entering object starts outside the frame: its direction names the edge, so no region.
    """
    if obj.motion == "enter" or obj.x is None or obj.y is None:
        return None
    h = "left" if obj.x < 1 / 3 else "center" if obj.x < 2 / 3 else "right"
    top = floor_top(scene.floor)
    rest = resting_y(obj.shape, obj.size, obj.motion, scene.width, scene.height)
    if scene.floor and abs(obj.y - rest) <= REST_TOLERANCE_PX / scene.height:
        v = "bottom" if obj.motion in GRAVITY_MOTIONS else "floor"
    else:
        v = "top" if obj.y < top / 3 else "middle" if obj.y < 2 * top / 3 else "bottom"
    return h, v


def region_point(
    h: str, v: str, shape: str, size: str, motion: str, width: int, height: int, floor: bool
) -> tuple[float, float]:
    """A start point (fractions) inside region (h, v) that `start_region` classifies back to it."""
    top = floor_top(floor)
    rest = resting_y(shape, size, motion, width, height)
    tol = REST_TOLERANCE_PX / height
    if v == "floor":
        y = rest
    elif v == "top":
        y = top / 6
    elif v == "middle":
        y = top / 2
    elif not floor:
        y = 5 / 6
    elif rest - 2 * tol > 2 * top / 3:  # the band's middle above the resting spot
        y = (2 * top / 3 + rest - 2 * tol) / 2
    else:  # a big object's resting spot fills the band: only a spot below it (in the floor) remains
        y = (max(2 * top / 3, rest + 2 * tol) + top) / 2
    return H_POINTS[h], y


# --- speed words ---------------------------------------------------------------------------------

SLOW_BELOW, FAST_ABOVE = 0.22, 0.38  # canvas widths/s; the slide range is 0.15 to 0.45
SPEED_POINTS: dict[str, float] = {"slow": 0.18, "fast": 0.42}


def speed_word(obj: ObjectSpec) -> str | None:
    """'slow' or 'fast' when a translating object's speed is clearly at one end of its range."""
    if obj.motion not in TRANSLATING or obj.speed is None:
        return None
    return "slow" if obj.speed < SLOW_BELOW else "fast" if obj.speed > FAST_ABOVE else None
