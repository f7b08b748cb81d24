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

How it reads (words: `kinema.world.grammar`; defaults, interactions and region points:
`kinema.world.drafts`): tokens (grammar.tokenize) feed a small state machine. Noun phrases ("the
still blue box") gather determiners and adjectives up to their noun; a noun phrase after a
preposition or an interaction verb is a second object, any other is the subject that later
verbs, directions, regions and speeds attach to ("it" keeps the subject, "they" takes the last
two; after "the camera" or "a close-up", a noun phrase is what they show). Location words after
on/in/at are a start region, after to/toward/through a direction, after "from" the opposite
direction. Sentences end at . ! ? ; and settle their interactions ("X and Y collide", "X pushes
Y", "X rolls into Y", "Y is pushed by X"). "On the floor" alone says what an object stands or
bounces on, not where along it: that spot, like every unsaid one, is left to the placer.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kinema.world.drafts import Draft, Reading
from kinema.world.grammar import PromptError, Token, direction_key, region_parts, tokenize, vocabulary
from kinema.world.palette import COLORS
from kinema.world.scene import Scene

__all__ = ["ParseResult", "PromptError", "parse_prompt", "parse_prompt_lenient", "vocabulary"]

DETS = ("DET_NEW", "DET_DEF")
NP_MODS = frozenset({*DETS, "NUM", "ORD", "SIZE", "COLOR", "GRAY", "STILL", "FRAMING"})
HEADS = frozenset({"SHAPE", "GENERIC", "TRAIL", "FLOOR", "CAMERA", "SHOT", "CUT", "CLOSEUP"})
PREPS = {"P_REGION": "region", "P_DIR": "dir", "P_FROM": "from", "P_OBL": "obl"}
EXAMPLES = {
    "collide": "the red ball collides with the blue ball", "push": "the red ball pushes the blue box",
    "pass_behind": "the red ball passes behind the blue box", "pass_in_front": "the red ball passes in front of the blue box",
}
LOCATION_MODES = {"P_REGION": "region", "P_DIR": "dir", "P_FROM": "from"}  # what location words after each mean


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


class _Parser:
    """One pass over a prompt's tokens, writing what it says into a `Reading`."""

    def __init__(self, width: int, height: int, frames: int) -> None:
        self.said = Reading(width, height, frames)
        self.focus: list[int] = []  # the subject: object indices
        self.subjects: list[int] = []  # every subject so far, for "they"
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
        return self.said.scene()

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
                self.group, self.group_mode, self.prep = [], LOCATION_MODES.get(self.prep or ""), None
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
            self._pronoun(tok.value)
        elif k == "BG":
            self.said.backgrounds.append(tok.value)
        elif k == "NOFLOOR":
            self.said.no_floor = True
        elif k in ("MOTION", "SPEED", "SPIN", "TRAILING", "EACH_OTHER", "PAN", "ZOOM"):
            self._pred(k, tok.value)
        # COMMA, FILL, GFILL: nothing more (the preposition is already cleared)

    # --- noun phrases -----------------------------------------------------------------------------

    def _head(self, head: Token) -> None:
        mods, self.np = self.np, []
        if head.kind == "FLOOR":
            self.said.floor_said = True
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
            self.said.cut = self.said.cut or head.kind == "CUT"
            framings = [m.value for m in mods if m.kind == "FRAMING"] + ["medium" for m in mods if m.kind == "SIZE" and m.value == "medium"]
            if head.kind == "CLOSEUP":
                framings.append("close-up")
            count = next((m.value for m in mods if m.kind == "NUM"), None)
            if framings:
                self.said.framings.extend([framings[-1]] * (count or 1))
            elif count is not None and head.kind == "SHOT":
                if self.said.shot_count not in (None, count):
                    raise PromptError(f"the video is said to have both {self.said.shot_count} and {count} shots")
                self.said.shot_count = count
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
            found = list(range(len(self.said.objects), len(self.said.objects) + count))
            self.said.objects.extend(Draft(mention) for _ in found)
        for j, i in enumerate(found):
            draft = self.said.objects[i]
            if colors:
                draft.look("color", colors[j] if len(colors) == len(found) else colors[0])
            if size:
                draft.look("size", size)
            if shape:
                draft.look("shape", shape)
            if any(m.kind == "STILL" for m in mods):
                draft.marks.add("still")
        # A second object ("into the blue box"); after the camera or shots, the object they show.
        if (self.prep is not None or self.after_inter) and self.target == "object":
            self.obliques.extend(found)
            for inter in reversed(self.open):
                if inter[2] is None and found[0] not in inter[1]:
                    inter[2] = found[0]
                    break
        else:
            compound = self.after_and and self.has_subject and not self.predicated and self.target == "object"
            self.focus = self.focus + found if compound else found
            self.has_subject, self.target, self.predicated = True, "object", False
            self.subjects += [i for i in found if i not in self.subjects[-1:]]
        self.prep, self.after_and, self.after_inter = None, False, False

    def _refer(
        self, mention: str, shape: str | None, colors: list[str], size: str | None, number: int | None, many: bool, ordinal: Any
    ) -> list[int] | None:
        """Indices a definite noun phrase refers to, or None when it names no mentioned object."""
        matches = [
            i for i, d in enumerate(self.said.objects)
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
                self.said.framings.append(m.value)
            else:
                self._pred(m.kind, m.value)

    def _pronoun(self, number: int) -> None:
        if self.after_inter:  # "pushes it": the last other object mentioned
            for inter in reversed(self.open):
                if inter[2] is None:  # prefer this sentence's second objects, then the latest mentioned
                    latest = [*reversed(self.obliques), *reversed(range(len(self.said.objects)))]
                    inter[2] = next((i for i in latest if i not in inter[1]), None)
                    break
            self.after_inter = False
            return
        if number == 2 and len(self.focus) < 2:  # "they": the last two subjects
            last = list(dict.fromkeys(reversed(self.subjects)))[:2]
            self.focus = sorted(last) if len(last) == 2 else self.focus
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
            self._pred("REGION", region_parts(found))
        else:
            key = direction_key(found, flip=mode == "from")
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
                self._describe(self.said.objects[i], k, v)
        self.predicated = True

    def _describe(self, d: Draft, kind: str, value: Any) -> None:
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
                self.said.objects[a].toward, self.said.objects[b].toward = b, a
        elif kind in ("COLOR", "SIZE"):
            d.look(kind.lower(), value)

    def _camera(self, kind: str, value: Any) -> None:
        if kind in ("STILL", "PAN", "ZOOM") or (kind == "MOTION" and value in ("still", "move", "slide")):
            if kind == "ZOOM" and value is None:
                raise PromptError("say whether the camera zooms in or zooms out")
            motion = {"STILL": "still", "PAN": "pan", "ZOOM": f"zoom_{value}"}.get(kind) or ("still" if value == "still" else "pan")
            self.said.camera.append(("motion", motion))
        elif kind == "DIR":
            self.said.camera.append(("dir", value))
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
            passive = kind.endswith("_by")  # "the box is pushed by the ball"
            kind = kind.removesuffix("_by")
            if other is None:
                rest = [i for i in self.obliques if i not in subject]
                if len(subject) == 2:
                    subject, other = subject[:1], subject[1]
                elif rest:
                    other = rest[-1]
                elif kind == "contact":
                    continue  # "rolls into the frame": a preposition, not an interaction
                else:
                    raise PromptError(f"{kind.replace('_', ' ')} needs two objects, e.g. {EXAMPLES[kind]!r}")
            if len(subject) != 1:
                raise PromptError(f"{kind.replace('_', ' ')} joins exactly two objects, e.g. {EXAMPLES[kind]!r}")
            self.said.interactions.append((kind, other, subject[0]) if passive else (kind, subject[0], other))
        self._sentence()
