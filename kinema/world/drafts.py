"""What a prompt said, and the scene it makes: the second half of `kinema.world.parse`.

Contract: `kinema.world.parse` reads a prompt into a `Reading`: one `Draft` per object (what was
said of its looks, motion words, directions, start region, speed and trail; None is "not said"),
and what was said of the background, floor, camera, shots and interactions. `Reading.scene()`
fills in what the prompt leaves out (the defaults of kinema.world.parse), settles the kind of each
contact ("into", "hits": a still target is pushed, a moving one collided with) and the motions
and headings interactions imply, maps start regions to points (`grammar.region_point`), and
raises `PromptError` for anything the world cannot show, saying what it can.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from kinema.world.grammar import PromptError
from kinema.world.regions import SPEED_POINTS, region_point
from kinema.world.palette import DIRECTIONS, OPPOSITE
from kinema.world.scene import GRAVITY_MOTIONS, TRANSLATING, Camera, Interaction, ObjectSpec, Scene, Shot

# A motion that rules beside others: "leaves and comes back" is a return, "falls and bounces" a fall.
MOTION_RULES: tuple[tuple[str, frozenset[str]], ...] = (
    ("return", frozenset({"exit", "enter", "slide"})),
    ("exit", frozenset({"slide"})),
    ("enter", frozenset({"slide"})),
    ("fall", frozenset({"bounce"})),
    ("throw", frozenset({"slide"})),
)
DEFAULT_COLORS = ("red", "blue", "green", "yellow", "purple", "orange", "cyan", "pink", "white")
DEFAULT_FRAMINGS = ("medium", "close-up", "wide")
FRAMING_ZOOM: dict[str, float] = {"wide": 0.6, "medium": 1.0, "close-up": 1.6}  # see Shot.framing
STATIONARY = frozenset({"still", "spin", "grow", "shrink"})  # what a push can strike
MOVERS = frozenset({"slide", "enter", "exit"})  # straight-line movers: what can collide or push (physics)


@dataclass
class Draft:
    """One object as the prompt describes it so far; None is "not said"."""

    mention: str
    color: str | None = None
    shape: str | None = None
    size: str | None = None
    marks: set[str] = field(default_factory=set)  # motion words seen
    directions: list[str] = field(default_factory=list)
    spins: list[str] = field(default_factory=list)
    region: dict[str, str] | None = None  # explicit "h" / "v" parts ({}: "in the center")
    speeds: list[str] = field(default_factory=list)
    trail: bool = False
    toward: int | None = None  # the object it moves toward ("toward each other", interactions)

    def look(self, attr: str, value: str) -> None:
        old = getattr(self, attr)
        if old is not None and old != value:
            raise PromptError(f"{self.mention!r} is said to be both {old} and {value}")
        setattr(self, attr, value)


@dataclass
class Reading:
    """Everything a prompt said, in the order it said it."""

    width: int
    height: int
    frames: int
    objects: list[Draft] = field(default_factory=list)
    backgrounds: list[str] = field(default_factory=list)
    floor_said: bool = False
    no_floor: bool = False
    camera: list[tuple[str, Any]] = field(default_factory=list)  # ("motion", still/pan/zoom_in/...) or ("dir", key)
    shot_count: int | None = None
    framings: list[str] = field(default_factory=list)
    cut: bool = False
    interactions: list[tuple[str, int, int]] = field(default_factory=list)  # (kind or "contact", subject, other)

    def scene(self) -> Scene:
        """The scene the prompt describes: defaults filled in, interactions settled, regions placed."""
        drafts = self.objects
        if not drafts:
            raise PromptError("the prompt names no object: use a shape such as circle/ball, square/box or triangle")
        if len(drafts) > 3:
            raise PromptError(f"a scene has 1 to 3 objects; the prompt names {len(drafts)}")
        if len(set(self.backgrounds)) > 1:
            raise PromptError(f"the prompt names several backgrounds: {', '.join(dict.fromkeys(self.backgrounds))}")
        floor = not self.no_floor
        if self.no_floor and (self.floor_said or any((d.region or {}).get("v") == "floor" for d in drafts)):
            raise PromptError("the prompt says both that there is a floor and that there is none")
        motions = [_motion(d) for d in drafts]
        interactions = self._interactions(motions)
        objects: list[ObjectSpec] = []
        for i, d in enumerate(drafts):
            taken = {o.color for o in objects} | {o.color for o in drafts}  # named or already given
            color = d.color or next((c for c in DEFAULT_COLORS if c not in taken), "red")
            objects.append(self._object_spec(i, d, motions[i] or "still", color, floor))
        for it in interactions:  # draw order follows the pass
            s, o = objects[it.subject], objects[it.other]
            if it.kind == "pass_behind":
                objects[it.other] = replace(o, depth=max(o.depth, s.depth + 1))
            elif it.kind == "pass_in_front":
                objects[it.subject] = replace(s, depth=max(s.depth, o.depth + 1))
        try:
            return Scene(
                width=self.width, height=self.height, frames=self.frames,
                background=self.backgrounds[0] if self.backgrounds else "black", floor=floor,
                objects=tuple(objects), interactions=tuple(interactions),
                camera=self._camera_spec(), shots=self._shots(),
            )
        except ValueError as e:
            raise PromptError(str(e)) from e

    def _interactions(self, motions: list[str | None]) -> list[Interaction]:
        """Settle interaction kinds and the motions they imply; drafts get defaults in place."""
        explicit = {frozenset((s, o)) for kind, s, o in self.interactions if kind != "contact"}
        out: list[Interaction] = []
        for kind, s, o in self.interactions:
            if s == o:
                raise PromptError(f"{self.objects[s].mention!r} cannot {kind.replace('_', ' ')} with itself")
            if kind == "contact":
                if frozenset((s, o)) in explicit or motions[s] not in (None, *MOVERS):
                    continue
                kind = "push" if motions[o] in (None, *STATIONARY) else "collide"
            if kind in ("collide", "push") and motions[s] not in (None, *MOVERS):
                raise PromptError(f"only an object moving in a straight line (slides, enters, leaves) can {kind}; "
                                  f"{self.objects[s].mention!r} does {motions[s]}")
            motions[s] = motions[s] or "slide"  # a pass only orders drawing: any motion can pass
            if kind == "collide":
                if motions[o] not in (None, *MOVERS):
                    raise PromptError(f"colliding objects move in straight lines; {self.objects[o].mention!r} does {motions[o]}")
                motions[o] = motions[o] or "slide"
                self.objects[o].toward = s if self.objects[o].toward is None else self.objects[o].toward
            elif kind == "push" and motions[o] not in (None, *STATIONARY):
                raise PromptError(f"a push strikes a still object; {self.objects[o].mention!r} does {motions[o]}")
            elif motions[o] is None:
                motions[o] = "still"
            self.objects[s].toward = o if self.objects[s].toward is None else self.objects[s].toward
            interaction = Interaction(kind, s, o)
            if interaction not in out and not (kind == "collide" and Interaction(kind, o, s) in out):
                out.append(interaction)
        return out

    def _object_spec(self, index: int, d: Draft, motion: str, color: str, floor: bool) -> ObjectSpec:
        direction = self._direction(index, d, motion)
        shape = d.shape or ("square" if motion == "spin" else "circle")
        size = d.size or "medium"
        x = y = None
        if d.region is not None:
            h, v = d.region.get("h"), d.region.get("v")
            px, py = region_point(h or "center", v or "middle", shape, size, motion, self.width, self.height, floor)
            if motion == "enter":  # it starts outside: a region can only say where along its edge
                dx, dy = DIRECTIONS[direction or "right"]
                x, y = (px if dx == 0 and h else None), (py if dy == 0 and v else None)
            else:
                # "On the floor" says what it stands or bounces on: where along the floor, or (under
                # gravity) how high it starts, is the placer's choice unless said.
                x = px if h or v != "floor" else None
                y = None if v == "floor" and motion in GRAVITY_MOTIONS else py
        speeds = set(d.speeds)
        if len(speeds) > 1:
            raise PromptError(f"{d.mention!r} is said to move both slowly and quickly")
        speed = SPEED_POINTS[speeds.pop()] if speeds and motion in TRANSLATING else None
        try:
            return ObjectSpec(color=color, shape=shape, size=size, motion=motion, direction=direction,
                              x=x, y=y, speed=speed, trail=d.trail)
        except ValueError as e:
            raise PromptError(f"{d.mention!r}: {e}") from e

    def _direction(self, index: int, d: Draft, motion: str) -> str | None:
        keys = set(d.directions)
        if len(keys) > 1:
            raise PromptError(f"{d.mention!r} is said to move {' and '.join(sorted(keys))}")
        key = next(iter(keys), None)
        if motion == "spin":
            if key is not None or len(set(d.spins)) > 1:
                raise PromptError(f"{d.mention!r} spins clockwise or counterclockwise, not {key or 'both'}")
            return d.spins[0] if d.spins else "clockwise"
        across = key.split("-")[-1] if key and key.split("-")[-1] in ("left", "right") else None
        if motion in TRANSLATING:
            return key or self._toward(index, d)
        if motion == "bounce" and key is not None:
            return across  # bouncing is up and down already; only a drift left or right is extra
        if motion == "throw":
            if key is not None and across is None:
                raise PromptError(f"{d.mention!r} is thrown to the left or to the right, not {key}")
            return across or self._toward(index, d)
        if motion == "fall" and key in (None, "down"):
            return None
        if key is not None:
            raise PromptError(f"{d.mention!r} {motion}s in place; it takes no direction ({key})")
        return None

    def _toward(self, index: int, d: Draft) -> str:
        """Default heading: toward its partner (head-on against its heading, else by stated regions,
        else the first mentioned goes right), or right when it has none."""
        if d.toward is None:
            return "right"
        partner = self.objects[d.toward]
        if partner.directions and partner.toward == index:
            return OPPOSITE[partner.directions[0]]
        order = ("left", "center", "right")
        mine, theirs = (d.region or {}).get("h", "center"), (partner.region or {}).get("h", "center")
        if mine != theirs:
            return "right" if order.index(mine) < order.index(theirs) else "left"
        return "right" if index < d.toward else "left"

    def _camera_spec(self) -> Camera:
        motions = {v for k, v in self.camera if k == "motion"}
        dirs = {v for k, v in self.camera if k == "dir"}
        if dirs and not motions:
            motions = {"pan"}  # "the camera moves left"
        if len(motions) > 1:
            raise PromptError(f"the camera does one thing per clip; the prompt says {' and '.join(sorted(motions))}")
        motion = next(iter(motions), "still")
        if motion == "pan":
            if len(dirs) != 1 or not dirs <= {"left", "right"}:
                raise PromptError("the camera pans left or right")
            return Camera(motion=f"pan_{dirs.pop()}")
        if dirs:
            raise PromptError(f"the camera {motion.replace('_', 's ')} takes no direction")
        return Camera(motion=motion)

    def _shots(self) -> tuple[Shot, ...]:
        framings = list(self.framings)
        if self.cut and len(framings) == 1 and self.shot_count in (None, 2):
            framings.insert(0, "medium")  # "it cuts to a close-up"
        count = self.shot_count or len(framings) or (2 if self.cut else 1)
        if framings and len(framings) != count:
            raise PromptError(f"the prompt names {count} shots but describes {len(framings)}")
        framings = framings or list(DEFAULT_FRAMINGS[:count])
        if not 1 <= count <= 3 or count > self.frames:
            raise PromptError(f"a video has 1 to 3 shots, each at least a frame long; got {count} in {self.frames} frames")
        return tuple(Shot(start=i * self.frames // count, zoom=FRAMING_ZOOM[f]) for i, f in enumerate(framings))


def _motion(d: Draft) -> str | None:
    """The one motion a draft's motion words add up to (None: nothing said)."""
    core = d.marks - {"move"}
    if not core:
        return "slide" if "move" in d.marks else None
    for lead, allowed in MOTION_RULES:
        if lead in core and core <= allowed | {lead}:
            return lead
    if len(core) > 1:
        raise PromptError(f"{d.mention!r} has one motion, but the prompt says {' and '.join(sorted(core))}")
    return next(iter(core))
