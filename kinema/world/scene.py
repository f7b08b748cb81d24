"""Scene specs: what a world clip contains, as plain frozen dataclasses.

A `Scene` is the whole truth of a clip before rendering: canvas, duration, background, floor,
objects with their motions, interactions between objects, camera motion and shots. It is built
three ways: sampled at random (`sample_scene`, seeded), from a caption-grammar prompt
(`kinema.world.parse`), or from a JSON/dict spec (`Scene.from_dict`) so that tests and the
evaluator can ask for an exact scene. Physics (`physics.py`) turns it into trajectories and the
renderer (`render.py`) into pixels.

Units: positions are fractions of the canvas (x of width, y of height; x to the viewer's right,
y downward), speeds are canvas widths per second, spin speed is turns per second, time is frames
at `fps`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from kinema.world.palette import BACKGROUNDS, COLORS, DIRECTIONS, SHAPES, SIZES, SPIN_DIRECTIONS, allowed

MOTIONS: tuple[str, ...] = (
    "still",  # stays where it is
    "slide",  # constant velocity toward `direction`
    "bounce",  # gravity, restitution 0.8 on the floor, optional horizontal drift (`direction` left/right)
    "fall",  # starts near the top, falls, lands and bounces to rest
    "throw",  # projectile arc toward `direction` (left/right)
    "spin",  # turns in place, `direction` clockwise/counterclockwise
    "grow",  # size doubles over the clip
    "shrink",  # size halves over the clip
    "enter",  # starts outside the frame and slides in toward `direction`
    "exit",  # slides out of the frame toward `direction`
    "return",  # slides out toward `direction`, then comes back
)
TRANSLATING: frozenset[str] = frozenset({"slide", "enter", "exit", "return"})
GRAVITY_MOTIONS: frozenset[str] = frozenset({"bounce", "fall", "throw"})
INTERACTIONS: tuple[str, ...] = ("collide", "push", "pass_behind", "pass_in_front")
CAMERA_MOTIONS: tuple[str, ...] = ("still", "pan_left", "pan_right", "zoom_in", "zoom_out")

WIDTH_RANGE = (32, 256)
MAX_FRAMES = 65
DEFAULT_FPS = 8.0

# Physics constants of shared/WORLD.md.
GRAVITY = 2.5  # canvas heights per second squared
RESTITUTION = 0.8  # bounce on the floor
FALL_RESTITUTION = 0.4  # a "fall" lands heavily and comes to rest within a clip
PUSH_RESTITUTION = 0.5  # push: the striker keeps (1-e)/2 of its speed, the struck gets (1+e)/2
SLIDE_SPEED_RANGE = (0.15, 0.45)
SPIN_SPEED = 0.5  # turns per second
SIZE_CHANGE = 2.0  # grow/shrink factor over the clip


def _check(value: object, options: tuple[str, ...] | dict[str, Any], what: str) -> None:
    if value not in options:
        raise ValueError(f"{what} {value!r} is not allowed; use one of: {allowed(options)}")


@dataclass(frozen=True)
class ObjectSpec:
    """One object: its looks (kept for the whole video) and its motion."""

    color: str = "red"
    shape: str = "circle"
    size: str = "medium"
    motion: str = "still"
    # slide/enter/exit/return: a DIRECTIONS key; bounce: left/right/None (drift); throw: left/right;
    # spin: clockwise/counterclockwise; others: None.
    direction: str | None = None
    # None means "not placed yet": `kinema.world.sample.place` fills these in consistently with the
    # motion (a prompt rarely says where exactly a ball starts), and the renderer requires them.
    x: float | None = None  # start center, fraction of width (outside [0, 1] for "enter")
    y: float | None = None  # start center, fraction of height
    speed: float | None = None  # canvas widths/s (translation, drift, throw); turns/s for spin
    trail: bool = False  # paints a lasting line of its own color behind it
    depth: int = 0  # draw order: higher is in front; ties keep list order

    def __post_init__(self) -> None:
        _check(self.color, COLORS, "color")
        _check(self.shape, SHAPES, "shape")
        _check(self.size, SIZES, "size")
        _check(self.motion, MOTIONS, "motion")
        if self.motion in TRANSLATING:
            _check(self.direction, tuple(DIRECTIONS), f"direction of {self.motion}")
        elif self.motion == "bounce":
            if self.direction is not None:
                _check(self.direction, ("left", "right"), "bounce drift direction")
        elif self.motion == "throw":
            _check(self.direction, ("left", "right"), "throw direction")
        elif self.motion == "spin":
            _check(self.direction, SPIN_DIRECTIONS, "spin direction")
            if self.shape == "circle":
                raise ValueError("a circle cannot visibly spin; use a square or triangle for motion 'spin'")
        elif self.direction is not None:
            raise ValueError(f"motion {self.motion!r} takes no direction, got {self.direction!r}")
        for name, value in (("x", self.x), ("y", self.y)):
            if value is not None and not -1.0 <= value <= 2.0:
                raise ValueError(f"start {name} {value} is too far outside the canvas; use a fraction near [0, 1]")
        if self.speed is not None and not 0.0 <= self.speed <= 2.0:
            raise ValueError(f"speed {self.speed} is out of range; use 0 to 2 canvas widths (or turns) per second")

    @property
    def placed(self) -> bool:
        """True once start position and speed are set (the renderer needs them)."""
        return self.x is not None and self.y is not None and self.speed is not None

    @property
    def diameter(self) -> float:
        """Diameter or side as a fraction of the shorter canvas side."""
        return SIZES[self.size]


@dataclass(frozen=True)
class Interaction:
    """A relation between two objects, by index into `Scene.objects`.

    collide: both slide toward each other and rebound (equal-mass elastic);
    push: `subject` slides into a still `other`, which then moves while the subject slows;
    pass_behind / pass_in_front: `subject` slides across `other`, drawn behind / in front of it.
    """

    kind: str
    subject: int
    other: int

    def __post_init__(self) -> None:
        _check(self.kind, INTERACTIONS, "interaction")
        if self.subject == self.other:
            raise ValueError(f"an interaction needs two different objects, got {self.subject} twice")


@dataclass(frozen=True)
class Camera:
    """Camera motion within each shot. Panning left moves the view left, so the world scrolls right."""

    motion: str = "still"
    speed: float = 0.15  # pan: canvas widths/s; zoom: total zoom factor change is 1.5x over the clip

    def __post_init__(self) -> None:
        _check(self.motion, CAMERA_MOTIONS, "camera motion")


@dataclass(frozen=True)
class Shot:
    """A shot starts at `start` frame with its own framing; shots are joined by hard cuts.

    `zoom` > 1 is a close-up, < 1 is further away; `cx`, `cy` is the world point (fractions of the
    canvas) at the center of the view.
    """

    start: int = 0
    zoom: float = 1.0
    cx: float = 0.5
    cy: float = 0.5

    def __post_init__(self) -> None:
        if not (0.4 <= self.zoom <= 3.0):
            raise ValueError(f"shot zoom {self.zoom} is out of range; use 0.4 (far) to 3.0 (close-up)")

    @property
    def framing(self) -> str:
        """Plain-language framing used by captions."""
        if self.zoom >= 1.3:
            return "close-up"
        if self.zoom <= 0.8:
            return "wide"
        return "medium"


@dataclass(frozen=True)
class Scene:
    width: int = 64
    height: int = 64
    frames: int = 33
    fps: float = DEFAULT_FPS
    background: str = "black"
    floor: bool = True
    objects: tuple[ObjectSpec, ...] = ()
    interactions: tuple[Interaction, ...] = ()
    camera: Camera = field(default_factory=Camera)
    shots: tuple[Shot, ...] = (Shot(),)
    texture_seed: int = 0  # places the faint background texture (stars, stripes)

    def __post_init__(self) -> None:
        validate_canvas(self.width, self.height, self.frames)
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        _check(self.background, BACKGROUNDS, "background")
        if not 1 <= len(self.objects) <= 3:
            raise ValueError(f"a scene has 1 to 3 objects, got {len(self.objects)}")
        if not 1 <= len(self.shots) <= 3:
            raise ValueError(f"a scene has 1 to 3 shots, got {len(self.shots)}")
        if self.shots[0].start != 0:
            raise ValueError("the first shot must start at frame 0")
        starts = [s.start for s in self.shots]
        if starts != sorted(set(starts)) or starts[-1] >= self.frames:
            raise ValueError(f"shot starts {starts} must increase and lie inside the {self.frames} frames")
        for it in self.interactions:
            for index in (it.subject, it.other):
                if not 0 <= index < len(self.objects):
                    raise ValueError(f"interaction {it.kind} names object {index}, but the scene has {len(self.objects)}")

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    @property
    def placed(self) -> bool:
        return all(o.placed for o in self.objects)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> Scene:
        """Build a scene from a JSON-style dict; unknown keys are an error, missing ones take defaults."""
        spec = dict(spec)
        unknown = set(spec) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"unknown scene keys {sorted(unknown)}; allowed: {sorted(cls.__dataclass_fields__)}")
        objects = tuple(_build(ObjectSpec, o) for o in spec.pop("objects", ()))
        interactions = tuple(_build(Interaction, i) for i in spec.pop("interactions", ()))
        camera = _build(Camera, spec.pop("camera", {}))
        shots = tuple(_build(Shot, s) for s in spec.pop("shots", [{}]))
        return cls(objects=objects, interactions=interactions, camera=camera, shots=shots, **spec)

    def with_(self, **changes: Any) -> Scene:
        return replace(self, **changes)


def _build(cls: type, spec: dict[str, Any] | Any) -> Any:
    if isinstance(spec, cls):
        return spec
    if not isinstance(spec, dict):
        raise ValueError(f"{cls.__name__} spec must be a mapping, got {type(spec).__name__}")
    unknown = set(spec) - set(cls.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {sorted(unknown)}; allowed: {sorted(cls.__dataclass_fields__)}")
    return cls(**spec)


def validate_canvas(width: int, height: int, frames: int) -> None:
    """Raise ValueError unless the canvas and duration are ones the world supports."""
    lo, hi = WIDTH_RANGE
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or value % 16 or not lo <= value <= hi:
            raise ValueError(f"{name} {value} is not supported; use a multiple of 16 from {lo} to {hi}")
    if not isinstance(frames, int) or not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"frames {frames} is not supported; use 1 to {MAX_FRAMES} (longer videos are made by extension)")
