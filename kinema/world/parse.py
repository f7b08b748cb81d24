"""Prompts in the caption grammar to Scenes: the inverse of `kinema.world.caption`.

Contract:
- `parse_prompt(text, width=, height=, frames=)` reads detailed captions, short captions and what
  people type in the same words ("a small red circle bounces to the right", "two blue boxes
  sliding left on a night background") and returns a `Scene`. For every scene `s` and every
  paraphrase, `scene_facts(parse_prompt(detailed_caption(s, rng))) == scene_facts(s)`.
- What the prompt leaves out takes defaults: size medium, background black, a floor, a still
  camera, one medium shot, motion still; colors not named take palette colors unused by the other
  objects (red, blue, green, ...); a noun of no shape ("object") is a circle, or a square when it
  spins; a slide without a direction goes right (or toward its partner in an interaction).
  Start positions and speeds stay None ("not placed") unless stated: a start region sets x / y to
  that region's point, "slowly" / "quickly" set a slide's speed. Parsing is pure: placing the
  scene is `kinema.world.sample.place`'s job, called by whoever needs pixels.
- Stopwords (a, the, of, across, ...) are ignored; any other word the grammar cannot place raises
  `PromptError` naming it (`unknown_words`). With `strict=False` unknown words are skipped;
  `parse_prompt_lenient` also returns them (`ParseResult`), for the prompt enhancer.
- A prompt that the world cannot show (a spinning circle, four objects, two directions for one
  object) raises `PromptError` (a ValueError) saying what is allowed, in both modes.

How it reads: tokens (grammar.tokenize) feed a small state machine. Noun phrases ("the still blue
box") gather determiners and adjectives up to their noun; a noun phrase after a preposition or an
interaction verb is a second object, any other is the subject that later verbs, directions,
regions and speeds attach to ("it" keeps the subject). Location words after on/in/at are a start
region, after to/toward/through a direction, after "from" the opposite direction. Sentences end
at . ! ? ; and settle their interactions ("X and Y collide", "X pushes Y", "X rolls into Y").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from kinema.world.grammar import (
    FRAMING_ZOOM,
    LEXICON,
    SPEED_POINTS,
    Token,
    region_point,
    tokenize,
)
from kinema.world.palette import COLORS, DIRECTIONS
from kinema.world.scene import (
    GRAVITY_MOTIONS,
    TRANSLATING,
    Camera,
    Interaction,
    ObjectSpec,
    Scene,
    Shot,
)

DETS = ("DET_NEW", "DET_DEF")
NP_MODS = frozenset({*DETS, "NUM", "ORD", "SIZE", "COLOR", "GRAY", "STILL", "FRAMING"})
HEADS = frozenset({"SHAPE", "GENERIC", "TRAIL", "FLOOR", "CAMERA", "SHOT", "CUT", "CLOSEUP"})
PREPS = {"P_REGION": "region", "P_DIR": "dir", "P_FROM": "from", "P_OBL": "obl"}
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
STATIONARY = frozenset({"still", "spin", "grow", "shrink"})  # what a push can strike
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up",
            "up-left": "down-right", "down-right": "up-left", "up-right": "down-left", "down-left": "up-right"}


class PromptError(ValueError):
    """A prompt outside the grammar or the world; `unknown_words` lists words the grammar lacks."""

    def __init__(self, message: str, unknown_words: list[str] | None = None) -> None:
        super().__init__(message)
        self.unknown_words: list[str] = list(unknown_words or [])


class ParseResult(NamedTuple):
    scene: Scene
    unknown_words: list[str]


def parse_prompt(text: str, *, width: int = 64, height: int = 64, frames: int = 33, strict: bool = True) -> Scene:
    """The scene a prompt describes (see module doc); strict=False skips unknown words."""
    tokens, unknown = tokenize(text)
    if strict and unknown:
        names = ", ".join(repr(w) for w in dict.fromkeys(unknown))
        raise PromptError(
            f"unknown words {names}: prompts are in the world's caption grammar: colors "
            f"({', '.join(COLORS)}), shapes (circle/ball, square/box, triangle/wedge), sizes, motions "
            "(slides, bounces, falls, is thrown, spins, grows, shrinks, enters, leaves, comes back), "
            "directions, backgrounds (black, charcoal, night, forest), camera and shots; "
            "see kinema.world.parse.vocabulary()",
            unknown_words=list(dict.fromkeys(unknown)),
        )
    return _Parser(width, height, frames).parse(tokens)


def parse_prompt_lenient(text: str, *, width: int = 64, height: int = 64, frames: int = 33) -> ParseResult:
    """Parse skipping unknown words, and return them: for the prompt enhancer."""
    scene = parse_prompt(text, width=width, height=height, frames=frames, strict=False)
    return ParseResult(scene, list(dict.fromkeys(tokenize(text)[1])))


VOCABULARY_KINDS: dict[str, tuple[str, ...]] = {
    "colors": ("COLOR",), "shapes": ("SHAPE", "GENERIC"), "sizes": ("SIZE",), "motions": ("MOTION", "STILL", "LEAVE"),
    "directions": ("LOC", "DIRWORD", "SPIN", "EACH_OTHER"), "speeds": ("SPEED",), "trails": ("TRAIL", "TRAILING"),
    "interactions": ("INTER",), "backgrounds": ("BG",), "floor": ("FLOOR", "NOFLOOR", "GRAY"),
    "camera": ("CAMERA", "PAN", "ZOOM"), "shots": ("SHOT", "CUT", "CLOSEUP", "FRAMING"),
    "numbers": ("NUM", "ORD"), "stopwords": ("FILL", "GFILL", "NPFILL", "AND", "PRON", *DETS, *PREPS),
}


def vocabulary() -> dict[str, list[str]]:
    """The words and phrases the grammar knows, by category (for help texts)."""
    out: dict[str, list[str]] = {name: [] for name in VOCABULARY_KINDS}
    for key, tokens in LEXICON.items():
        for name, kinds in VOCABULARY_KINDS.items():
            if tokens[0].kind in kinds and key[0].isalnum():
                out[name].append(" ".join(key))
    return {name: sorted(found) for name, found in out.items()}


@dataclass
class _Draft:
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


class _Parser:
    def __init__(self, width: int, height: int, frames: int) -> None:
        self.width, self.height, self.frames = width, height, frames
        self.objects: list[_Draft] = []
        self.backgrounds: list[str] = []
        self.floor_said = False
        self.no_floor = False
        self.camera: list[tuple[str, Any]] = []
        self.shot_count: int | None = None
        self.framings: list[str] = []
        self.cut = False
        self.interactions: list[tuple[str, int, int]] = []
        self.focus: list[int] = []  # the subject: object indices
        self._sentence()

    def _sentence(self) -> None:
        """Reset what lives within one sentence."""
        self.np: list[Token] = []
        self.prep: str | None = None
        self.group: list[str] | None = None  # location words being gathered
        self.group_mode: str | None = None
        self.target = "object"  # what predicates describe: "object", "camera" or "shots"
        self.pending: list[tuple[str, Any]] = []  # predicates said before the subject
        self.has_subject = False
        self.predicated = False  # something was said of the subject (so "and <noun>" starts a new one)
        self.after_and = False
        self.after_inter = False
        self.obliques: list[int] = []
        self.open: list[list[Any]] = []  # [kind, subject indices, other index | None]

    # --- the token loop ---------------------------------------------------------------------------

    def parse(self, tokens: list[Token]) -> Scene:
        for i, tok in enumerate(tokens):
            if tok.kind == "LEAVE":  # "leaving a red trail" or "leaves through the edge"?
                j = i + 1
                while j < len(tokens) and (tokens[j].kind in (*DETS, "COLOR", "SIZE", "NPFILL") or tokens[j].text == "behind"):
                    j += 1
                trail = j < len(tokens) and tokens[j].kind == "TRAIL"
                tok = Token("FILL", None, tok.text) if trail else Token("MOTION", "exit", tok.text)
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            self._token(tok, nxt)
        self._end()
        return self._build()

    def _token(self, tok: Token, nxt: Token | None) -> None:
        k = tok.kind
        if k in NP_MODS:
            if k in DETS and self.np:
                self._flush_np()
            self.np.append(tok)
            return
        if k == "AND" and self.np and self.np[-1].kind == "COLOR" and nxt is not None and nxt.kind == "COLOR":
            return  # "red and blue balls"
        if k == "NPFILL":
            return
        if k in HEADS:
            self._head(tok)
            return
        self._flush_np()
        if k in ("LOC", "DIRWORD"):
            if self.group is None:
                mode = {"P_REGION": "region", "P_DIR": "dir", "P_FROM": "from"}.get(self.prep or "")
                self.group, self.group_mode, self.prep = [], mode, None
            if k == "DIRWORD" and self.group_mode is None:
                self.group_mode = "dir"
            self.group.append(tok.value)
            return
        if self.group is not None and (
            k in ("GFILL", "AND")
            or (k == "P_DIR" and self.group_mode in ("dir", None))  # "up and to the left"
            or (k == "P_REGION" and self.group_mode == "region")
        ):
            self.after_and = self.after_and or k == "AND"
            return
        self._close_group()
        self.prep = None
        if k in PREPS:
            self.prep = k
        elif k == "INTER":
            self.open.append([tok.value, list(self.focus) if self.has_subject else [], None])
            self.after_inter = True
            self.predicated = True
        elif k == "AND":
            self.after_and = True
        elif k == "END":
            self._end()
        elif k == "PRON":
            self._pronoun()
        elif k == "BG":
            self.backgrounds.append(tok.value)
        elif k == "NOFLOOR":
            self.no_floor = True
        elif k in ("MOTION", "SPEED", "SPIN", "TRAILING", "EACH_OTHER", "PAN", "ZOOM"):
            self._pred(k, tok.value)
        # COMMA, FILL, GFILL: nothing more (the preposition is already cleared)

    # --- noun phrases -----------------------------------------------------------------------------

    def _head(self, head: Token) -> None:
        mods, self.np = self.np, []
        if head.kind == "FLOOR":
            self.floor_said = True
            if self.group_mode == "region" or (self.group is None and self.prep == "P_REGION"):
                if self.group is None:
                    self.group, self.group_mode, self.prep = [], "region", None
                self.group.append("floor")  # "on the floor", "in the middle of the floor"
                return
            self._close_group()
            self.prep = None
            return
        self._close_group()
        if head.kind in ("SHAPE", "GENERIC"):
            self._object(mods, head)
        elif head.kind == "TRAIL":
            self._pred("TRAIL", [m.value for m in mods if m.kind == "COLOR"])
        elif head.kind == "CAMERA":
            self.target, self.has_subject = "camera", True
            for pred in self.pending + [("STILL", None) for m in mods if m.kind == "STILL"]:
                self._camera(*pred)
            self.pending = []
        else:  # SHOT, CUT, CLOSEUP
            self.target = "shots"
            self.cut = self.cut or head.kind == "CUT"
            framings = [m.value for m in mods if m.kind == "FRAMING"] + ["medium" for m in mods if m.kind == "SIZE" and m.value == "medium"]
            if head.kind == "CLOSEUP":
                framings.append("close-up")
            count = next((m.value for m in mods if m.kind == "NUM"), None)
            if framings:
                self.framings.extend([framings[-1]] * (count or 1))
            elif count is not None and head.kind == "SHOT":
                if self.shot_count not in (None, count):
                    raise PromptError(f"the video is said to have both {self.shot_count} and {count} shots")
                self.shot_count = count
        self.prep = None
        self.after_inter = False

    def _object(self, mods: list[Token], head: Token) -> None:
        mention = " ".join(t.text for t in mods + [head])
        if any(m.kind in ("GRAY", "FRAMING") for m in mods):
            raise PromptError(f"{mention!r}: gray is the floor's color, and wide / close describe shots; object colors are {', '.join(COLORS)}")
        shape, many = head.value if head.kind == "SHAPE" else (None, head.text.endswith("s"))
        colors = [m.value for m in mods if m.kind == "COLOR"]
        sizes = {m.value for m in mods if m.kind == "SIZE"}
        if len(sizes) > 1:
            raise PromptError(f"{mention!r} has more than one size")
        size = next(iter(sizes), None)
        number = next((m.value for m in mods if m.kind == "NUM"), None)
        count = number or (max(len(colors), 2) if many else 1)
        if len(colors) > 1 and len(colors) != count:
            raise PromptError(f"{mention!r} names {len(colors)} colors for {count} objects")
        definite = any(m.kind == "DET_DEF" for m in mods) and not any(m.kind == "DET_NEW" for m in mods)
        ordinal = next((m.value for m in mods if m.kind == "ORD"), None)
        found = self._refer(mention, shape, colors, size, number, many, ordinal) if definite else None
        if found is None:
            found = list(range(len(self.objects), len(self.objects) + count))
            self.objects.extend(_Draft(mention) for _ in found)
        for j, i in enumerate(found):
            draft = self.objects[i]
            if colors:
                draft.look("color", colors[j] if len(colors) == len(found) else colors[0])
            if size:
                draft.look("size", size)
            if shape:
                draft.look("shape", shape)
            if any(m.kind == "STILL" for m in mods):
                draft.marks.add("still")
        if self.prep is not None or self.after_inter:  # a second object: "into the blue box"
            self.obliques.extend(found)
            for inter in reversed(self.open):
                if inter[2] is None and found[0] not in inter[1]:
                    inter[2] = found[0]
                    break
        else:
            compound = self.after_and and self.has_subject and not self.predicated and self.target == "object"
            self.focus = self.focus + found if compound else found
            self.has_subject, self.target, self.predicated = True, "object", False
        self.prep, self.after_and, self.after_inter = None, False, False

    def _refer(
        self, mention: str, shape: str | None, colors: list[str], size: str | None, number: int | None, many: bool, ordinal: Any
    ) -> list[int] | None:
        """Indices a definite noun phrase refers to, or None when it names no mentioned object."""
        matches = [
            i for i, d in enumerate(self.objects)
            if (shape is None or d.shape in (None, shape))
            and (not colors or d.color in (None, *colors))
            and (size is None or (d.size or "medium") == size)  # an unsized mention is medium
        ]
        if ordinal == "other":
            matches = [i for i in matches if i not in self.focus]
        elif ordinal is not None:
            if len(matches) < ordinal:
                raise PromptError(f"{mention!r}: there are only {len(matches)} such objects")
            return [matches[ordinal - 1]]
        if not matches:
            return None
        want = number or (len(matches) if many else 1)
        if len(matches) != want:
            raise PromptError(f"{mention!r} could mean any of {len(matches)} objects; say which by color or size")
        return matches

    def _flush_np(self) -> None:
        """Adjectives with no noun describe the subject: "the ball is red", "the camera is still"."""
        mods, self.np = self.np, []
        content = [m for m in mods if m.kind not in (*DETS, "NUM", "ORD", "GRAY")]
        if not content:
            return
        self._close_group()
        for m in content:
            if m.kind == "FRAMING" or (self.target == "shots" and m.kind == "SIZE"):
                self.framings.append(m.value)
            else:
                self._pred(m.kind, m.value)

    def _pronoun(self) -> None:
        if self.after_inter:  # "pushes it": the last other object mentioned
            for inter in reversed(self.open):
                if inter[2] is None:
                    others = [i for i in self.obliques + list(range(len(self.objects))) if i not in inter[1]]
                    if self.obliques and self.obliques[-1] not in inter[1]:
                        inter[2] = self.obliques[-1]
                    elif others:
                        inter[2] = others[-1]
                    break
            self.after_inter = False
            return
        if self.focus:  # else a dummy "it" ("It is a single shot")
            self.has_subject, self.target = True, "object"

    # --- locations and predicates -----------------------------------------------------------------

    def _close_group(self) -> None:
        if self.group is None:
            return
        found, mode = self.group, self.group_mode
        self.group = self.group_mode = None
        if mode is None:  # bare words: "sliding left" is a direction, "top left" a region
            mode = "region" if set(found) & {"top", "bottom", "upper", "lower", "center", "centre", "middle", "floor"} else "dir"
        if mode == "region":
            self._pred("REGION", _region_parts(found))
        else:
            key = _direction_key(found, flip=mode == "from")
            if key is not None:
                self._pred("DIR", key)

    def _pred(self, kind: str, value: Any) -> None:
        if kind in ("PAN", "ZOOM"):
            self.target = "camera"
        if self.target == "camera":
            self._camera(kind, value)
            return
        if not self.has_subject:
            self.pending.append((kind, value))
            return
        pending, self.pending = self.pending, []
        for k, v in [*pending, (kind, value)]:
            for i in self.focus:
                self._describe(self.objects[i], k, v)
        self.predicated = True

    def _describe(self, d: _Draft, kind: str, value: Any) -> None:
        if kind == "MOTION":
            d.marks.add(value)
        elif kind == "STILL":
            d.marks.add("still")
        elif kind == "DIR":
            d.directions.append(value)
        elif kind == "SPIN":
            d.spins.append(value)
            d.marks.add("spin")
        elif kind == "SPEED":
            d.speeds.append(value)
        elif kind == "REGION":
            d.region = {} if d.region is None else d.region
            for part, word in value.items():
                if d.region.get(part, word) != word:
                    raise PromptError(f"{d.mention!r} is said to start both {d.region[part]} and {word}")
                d.region[part] = word
        elif kind in ("TRAIL", "TRAILING"):
            d.trail = True
            for color in value or ():
                d.look("color", color)  # a trail has its object's color
        elif kind == "EACH_OTHER":
            if len(self.focus) == 2:
                a, b = self.focus
                self.objects[a].toward, self.objects[b].toward = b, a
        elif kind in ("COLOR", "SIZE"):
            d.look(kind.lower(), value)

    def _camera(self, kind: str, value: Any) -> None:
        if kind in ("STILL", "PAN", "ZOOM") or (kind == "MOTION" and value in ("still", "move", "slide")):
            if kind == "ZOOM" and value is None:
                raise PromptError("say whether the camera zooms in or zooms out")
            motion = {"STILL": "still", "PAN": "pan", "ZOOM": f"zoom_{value}"}.get(kind) or ("still" if value == "still" else "pan")
            self.camera.append(("motion", motion))
        elif kind == "DIR":
            self.camera.append(("dir", value))
        elif kind not in ("SPEED", "REGION"):  # "slowly pans", "zooms in on the center"
            raise PromptError(f"the camera can be still, pan left or right, or zoom in or out; not {value or kind.lower()!r}")

    # --- sentences --------------------------------------------------------------------------------

    def _end(self) -> None:
        self._flush_np()
        self._close_group()
        if self.pending:
            if not self.focus:
                raise PromptError(f"{', '.join(str(v) for _, v in self.pending)} describes no object")
            self.has_subject = True
            self._pred(*self.pending.pop())
        for kind, subject, other in self.open:
            subject = subject or list(self.focus)
            if other is None:
                rest = [i for i in self.obliques if i not in subject]
                if len(subject) == 2:
                    subject, other = subject[:1], subject[1]
                elif rest:
                    other = rest[-1]
                elif kind == "contact":
                    continue  # "rolls into the frame": a preposition, not an interaction
                else:
                    raise PromptError(f"{kind.replace('_', ' ')} needs two objects, e.g. 'the red ball {kind.split('_')[0]}s the blue box'")
            if len(subject) != 1:
                raise PromptError(f"{kind.replace('_', ' ')} joins exactly two objects")
            self.interactions.append((kind, subject[0], other))
        self._sentence()

    # --- the scene ------------------------------------------------------------------------------

    def _build(self) -> Scene:
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
            taken = {o.color for o in objects} | {o.color for o in drafts}
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
                if frozenset((s, o)) in explicit or motions[s] not in (None, "slide"):
                    continue
                kind = "push" if motions[o] in (None, *STATIONARY) else "collide"
            if motions[s] not in (None, "slide"):
                raise PromptError(f"only a sliding object can {kind.replace('_', ' ')}; {self.objects[s].mention!r} does {motions[s]}")
            motions[s] = "slide"
            if kind == "collide":
                if motions[o] not in (None, "slide"):
                    raise PromptError(f"colliding objects slide; {self.objects[o].mention!r} does {motions[o]}")
                motions[o] = "slide"
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

    def _object_spec(self, index: int, d: _Draft, motion: str, color: str, floor: bool) -> ObjectSpec:
        direction = self._direction(index, d, motion)
        shape = d.shape or ("square" if motion == "spin" else "circle")
        size = d.size or "medium"
        x = y = None
        if d.region is not None:
            h, v = d.region.get("h"), d.region.get("v")
            bounces_on_floor = v == "floor" and motion in GRAVITY_MOTIONS
            if bounces_on_floor:
                v = None  # "bounces on the floor" says where it bounces, not where it starts
            px, py = region_point(h or "center", v or "middle", shape, size, motion, self.width, self.height, floor)
            if motion == "enter":  # it starts outside; a region can only say where along its edge
                across = DIRECTIONS[direction or "right"]
                x, y = (None, py if v else None) if across[1] == 0 else (px if h else None, None) if across[0] == 0 else (None, None)
            else:
                x, y = px, None if bounces_on_floor else py
        speeds = set(d.speeds)
        if len(speeds) > 1:
            raise PromptError(f"{d.mention!r} is said to move both slowly and quickly")
        speed = SPEED_POINTS[speeds.pop()] if speeds and motion in TRANSLATING else None
        try:
            return ObjectSpec(color=color, shape=shape, size=size, motion=motion, direction=direction,
                              x=x, y=y, speed=speed, trail=d.trail)
        except ValueError as e:
            raise PromptError(f"{d.mention!r}: {e}") from e

    def _direction(self, index: int, d: _Draft, motion: str) -> str | None:
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

    def _toward(self, index: int, d: _Draft) -> str:
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


def _motion(d: _Draft) -> str | None:
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


def _region_parts(found: list[str]) -> dict[str, str]:
    parts: dict[str, str] = {}
    for word in found:
        part, value = {
            "left": ("h", "left"), "right": ("h", "right"), "top": ("v", "top"), "upper": ("v", "top"),
            "up": ("v", "top"), "bottom": ("v", "bottom"), "lower": ("v", "bottom"), "down": ("v", "bottom"),
            "floor": ("v", "floor"),
        }.get(word, (None, None))
        if part is None:
            continue  # center / middle: the default of whichever part is not named
        if parts.get(part, value) != value:
            raise PromptError(f"a start region cannot be both {parts[part]} and {value}")
        parts[part] = value
    return parts


def _direction_key(found: list[str], flip: bool) -> str | None:
    h = v = None
    for word in found:
        if word in ("center", "centre", "middle"):
            raise PromptError("'toward the center' is not a direction: use left, right, up, down or a diagonal")
        if word in ("left", "right"):
            new, old = word, h
            h = word
        elif word in ("up", "top", "upper", "down", "bottom", "lower"):
            new = "up" if word in ("up", "top", "upper") else "down"
            old, v = v, new
        else:
            continue  # "falls to the floor"
        if old is not None and old != new:
            raise PromptError(f"a motion cannot go both {old} and {new}")
    if flip:
        h = {"left": "right", "right": "left"}.get(h or "")
        v = {"up": "down", "down": "up"}.get(v or "")
    return "-".join(p for p in (v, h) if p) or None
