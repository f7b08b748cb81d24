"""The caption grammar's shared words and geometry: what captions say and what prompts may say.

Both halves of the caption contract read from here: `kinema.world.caption` writes sentences with
these words and `kinema.world.parse` reads them back, so a word added here is understood in both.

- `LEXICON` maps every known phrase (a tuple of lowercase words; hyphens and apostrophes split
  words, so "snow-white" is ("snow", "white")) to the grammar tokens it stands for. `tokenize`
  matches phrases longest first, so "navy blue" is a color, "zooms in" a camera move and "in an
  arc" a throw before "blue" or "in" alone are looked at. `KINDS` says what each token kind means.
- Start regions: a caption names where an object starts as a horizontal third of the canvas
  (left / center / right) and a vertical third of the space above the floor (top / middle /
  bottom), or "floor" when it rests on the floor. `start_region` classifies a placed object and
  `region_point` is the point a parsed region maps back to; each region's point classifies back
  to that region for every size, shape, motion and canvas, which is what lets a caption parse
  back to its scene's facts.
- Speed words: "slowly" / "quickly" only when a slide's speed is clearly at one end of its range.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from kinema.world.palette import COLOR_SYNONYMS, FLOOR_FRACTION, SHAPE_SYNONYMS, SIZES
from kinema.world.scene import GRAVITY_MOTIONS, TRANSLATING, ObjectSpec, Scene

KINDS: dict[str, str] = {
    "DET_NEW": "indefinite article: the noun phrase is a new object (a, an, another)",
    "DET_DEF": "definite article: the noun phrase refers back to a mentioned object (the, this)",
    "NUM": "a count (one, two, three, a pair of)",
    "ORD": "picks one of several look-alikes (first, second, third, other)",
    "SIZE": "object size", "COLOR": "object color", "GRAY": "the floor's color",
    "STILL": "adjective: not moving (still, stationary, static)",
    "FRAMING": "shot framing adjective (wide, close, tight)",
    "SHAPE": "object noun (value: shape, plural)", "GENERIC": "object noun of no shape (object, thing)",
    "TRAIL": "trail noun", "FLOOR": "floor noun", "CAMERA": "camera noun",
    "SHOT": "shot noun", "CUT": "a hard cut", "CLOSEUP": "a close-up (noun)",
    "MOTION": "motion verb (value: a scene motion, or 'move' that only means 'not still')",
    "SPIN": "spin direction", "LOC": "left/right/up/down/top/bottom/center word",
    "DIRWORD": "a word that is always a direction (leftward)", "SPEED": "slow or fast",
    "TRAILING": "leaves a trail", "EACH_OTHER": "toward each other",
    "P_REGION": "preposition before a start region (on, in, at)",
    "P_DIR": "preposition before a direction (to, toward, through)",
    "P_FROM": "preposition before the side a motion comes from (from)",
    "P_OBL": "preposition before a second object (with, onto)",
    "INTER": "interaction (collide, push, pass_behind, pass_in_front, or 'contact': kind from motions)",
    "PAN": "camera pan", "ZOOM": "camera zoom (in / out)", "BG": "background name",
    "NOFLOOR": "there is no floor", "PRON": "pronoun (it, they)", "AND": "and",
    "COMMA": "comma", "END": "end of a sentence", "LEAVE": "leaves: an exit, or 'leaving a trail'",
    "FILL": "stopword: carries no information", "GFILL": "stopword that may sit inside a location (side, edge, of)",
    "NPFILL": "stopword that may sit inside a noun phrase (very, plain, hard)",
}


class PromptError(ValueError):
    """A prompt outside the grammar or the world; `unknown_words` lists words the grammar lacks."""

    def __init__(self, message: str, unknown_words: list[str] | None = None) -> None:
        super().__init__(message)
        self.unknown_words: list[str] = list(unknown_words or [])


@dataclass(frozen=True)
class Token:
    kind: str
    value: Any = None
    text: str = ""  # the phrase as written in the lexicon, for messages


def words(text: str) -> list[str]:
    """Lowercase words, digits and sentence punctuation; everything else separates words."""
    return re.findall(r"[a-z]+|\d+|[.!?;,:]", text.lower())


LEXICON: dict[tuple[str, ...], tuple[Token, ...]] = {}
MAX_PHRASE = 4


def _add(phrases: str, *tokens: tuple[str, Any]) -> None:
    for phrase in phrases.split("|"):
        key = tuple(words(phrase))
        if key in LEXICON or not 1 <= len(key) <= MAX_PHRASE:
            raise AssertionError(f"lexicon phrase {phrase!r} is duplicated or too long")
        LEXICON[key] = tuple(Token(kind, value, phrase) for kind, value in tokens)


def plural(noun: str) -> str:
    return noun + "es" if noun.endswith(("x", "s", "sh", "ch")) else noun + "s"


# Looks. Synonyms come from the palette, so a new color or shape there is understood here.
for _name, _synonyms in COLOR_SYNONYMS.items():
    _add("|".join((_name, *_synonyms)), ("COLOR", _name))
SHAPE_WORDS: dict[str, tuple[str, ...]] = {s: (s, *syn) for s, syn in SHAPE_SYNONYMS.items()}
for _shape, _nouns in SHAPE_WORDS.items():
    for _noun in _nouns:
        _add(_noun, ("SHAPE", (_shape, False)))
        _add(plural(_noun), ("SHAPE", (_shape, True)))
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little", "tiny"), "medium": ("medium", "medium-sized", "mid-sized"), "large": ("large", "big"),
}
for _size, _names in SIZE_WORDS.items():
    _add("|".join(_names), ("SIZE", _size))
_add("huge|giant", ("SIZE", "large"))  # understood, though captions use the milder words
_add("midsize|midsized|average", ("SIZE", "medium"))
_add("gray|grey", ("GRAY", None))
_add("object|objects|shape|shapes|thing|things|item|items", ("GENERIC", None))

# The setting. Captions name backgrounds by the first word of each list.
BACKGROUND_WORDS: dict[str, tuple[str, ...]] = {
    "black": ("black",),
    "charcoal": ("charcoal", "charcoal-gray", "charcoal grey", "dark gray", "dark grey"),
    "night": ("night-blue", "night", "midnight-blue", "night sky"),
    "forest": ("forest-green", "forest", "dark forest-green"),
}
for _bg, _names in BACKGROUND_WORDS.items():
    _add("|".join(_names), ("BG", _bg))
_add("background|backgrounds|backdrop|backdrops", ("FILL", None))
_add("floor|floors|ground", ("FLOOR", None))
_add("no floor|without a floor|without any floor|without floor|floorless|no ground", ("NOFLOOR", None))

# Motions. "move" verbs say only that something moves: alone they mean slide, beside a more
# specific verb ("flies in an arc", "moves out of the frame") they defer to it.
MOTION_WORDS: dict[str, str] = {
    "slide": "slide|slides|sliding|slid|glide|glides|gliding|glided|roll|rolls|rolling|rolled|travel|travels"
    "|traveling|travelling|traveled|travelled",
    "move": "move|moves|moving|moved|go|goes|going|went|head|heads|heading|headed|drift|drifts|drifting"
    "|fly|flies|flying|flew|pass|passes|passing|passed|cross|crosses|crossing|come|comes|coming|came",
    "bounce": "bounce|bounces|bouncing|bounced|bouncy|hop|hops|hopping|hopped|up and down",
    "fall": "fall|falls|falling|fell|fallen|drop|drops|dropping|dropped|land|lands|landing|landed|settle|settles"
    "|settling|settled|comes to rest|come to rest|coming to rest|came to rest",
    "throw": "throw|throws|throwing|threw|thrown|toss|tosses|tossing|tossed|lob|lobs|lobbing|lobbed|arc|arcs"
    "|arcing|in an arc|in a arc|in arcs",
    "spin": "spin|spins|spinning|spun|rotate|rotates|rotating|rotated|turn|turns|turning|turned|twirl|twirls"
    "|twirling",
    "grow": "grow|grows|growing|grew|grown|expand|expands|expanding|expanded|swell|swells|swelling|larger|bigger"
    "|double|doubles|doubling|to twice its size|twice as big|twice as large",
    "shrink": "shrink|shrinks|shrinking|shrank|shrunk|contract|contracts|contracting|smaller|halve|halves"
    "|halving|dwindle|dwindles|dwindling",
    "enter": "enter|enters|entering|entered|appear|appears|appearing|comes in|come in|coming in|comes into view"
    "|come into view|coming into view|into view|into the frame|into frame",
    "exit": "exit|exits|exiting|exited|disappear|disappears|disappearing|out of the frame|out of frame"
    "|out of view|out of sight|offscreen|off screen|off the screen|goes out|go out|going out",
    "return": "return|returns|returning|returned|reappear|reappears|reappearing|reenter|reenters|re-enter"
    "|re-enters|back|comes back|come back|coming back|came back",
    "still": "rest|rests|resting|rested|sit|sits|sitting|sat|stay|stays|staying|stayed|stand|stands|standing"
    "|lie|lies|lying|remain|remains|remaining|hang|hangs|hanging|hover|hovers|hovering|float|floats|floating"
    "|wait|waits|waiting|stays put|stay put|does not move|do not move|doesn't move|don't move|not moving"
    "|at rest|holds still|hold still",
}
for _motion, _phrases in MOTION_WORDS.items():
    _add(_phrases, ("MOTION", _motion))
_add("out|off", ("MOTION", "exit"), ("P_DIR", None))  # "slides out to the right", "moves off the edge"
_add("in from", ("MOTION", "enter"), ("P_FROM", None))  # "slides in from the left"
_add("still|stationary|motionless|static|fixed|steady|unmoving|immobile", ("STILL", None))
_add("leave|leaves|leaving", ("LEAVE", None))
_add("clockwise", ("SPIN", "clockwise"))
_add("counterclockwise|counter-clockwise|anticlockwise|anti-clockwise", ("SPIN", "counterclockwise"))
SPEED_WORDS: dict[str, tuple[str, ...]] = {
    "slow": ("slowly", "gently", "leisurely", "slow", "lazily", "gradually"),
    "fast": ("quickly", "rapidly", "swiftly", "fast", "quick", "speedily", "briskly"),
}
for _speed, _names in SPEED_WORDS.items():
    _add("|".join(_names), ("SPEED", _speed))
_add("trail|trails|streak|streaks|line|lines|stroke|strokes", ("TRAIL", None))
_add("trailing", ("TRAILING", None))
_add("paint|paints|painting|draw|draws|drawing|trace|traces|tracing", ("FILL", None))

# Where: location words are regions after on/in/at and directions after to/toward/from.
for _loc in ("left", "right", "up", "down", "top", "bottom", "upper", "lower", "center", "centre", "middle"):
    _add(_loc, ("LOC", _loc))
for _dir in ("left", "right", "up", "down"):
    _add(f"{_dir}ward|{_dir}wards", ("DIRWORD", _dir))
_add("on|in|at|near|within|starts from|start from|starting from|begins from|begin from", ("P_REGION", None))
_add("to|toward|towards|through|via", ("P_DIR", None))
_add("from", ("P_FROM", None))
_add("with|onto|against|upon", ("P_OBL", None))
_add("side|sides|edge|edges|corner|corners|half|part|end|hand|border|of|diagonally|diagonal|way", ("GFILL", None))

# Interactions. "into" and "hits" name a contact whose kind follows from the motions (a still
# target is pushed, a moving one collided with).
_add("collide|collides|colliding|collided|collision|collisions|crash|crashes|crashing|crashed", ("INTER", "collide"))
_add("push|pushes|pushing|pushed|shove|shoves|shoving|shoved|knock|knocks|knocking|knocked|nudge|nudges|nudging",
     ("INTER", "push"))
_add("hit|hits|hitting|strike|strikes|striking|struck|bump|bumps|bumping|bumped|meet|meets|meeting|met",
     ("INTER", "contact"))
_add("into", ("INTER", "contact"), ("P_OBL", None))
# The passive names the subject last: "the box is pushed by the ball".
_add("pushed by|shoved by|knocked by|nudged by", ("INTER", "push_by"), ("P_OBL", None))
_add("hit by|struck by|bumped by", ("INTER", "contact_by"), ("P_OBL", None))
_add("behind", ("INTER", "pass_behind"), ("P_OBL", None))
_add("in front of", ("INTER", "pass_in_front"), ("P_OBL", None))
_add("behind it|behind itself|behind them|behind themselves", ("FILL", None))  # where a trail is, not a pass
_add("each other|one another|toward each other|towards each other|toward one another|at each other",
     ("EACH_OTHER", None))

# Camera and shots.
_add("camera|cameras|view|viewpoint", ("CAMERA", None))
_add("pan|pans|panning|panned", ("PAN", None))
_add("zoom in|zooms in|zooming in|zoomed in|push in|pushes in|pushing in|moves closer|move closer", ("ZOOM", "in"))
_add("zoom out|zooms out|zooming out|zoomed out|pull back|pulls back|pulling back|pulled back|pulls out|pull out",
     ("ZOOM", "out"))
_add("zoom|zooms|zooming|zoomed", ("ZOOM", None))
_add("shot|shots", ("SHOT", None))
_add("cut|cuts|cutting|hard cut|hard cuts", ("CUT", None))
_add("close-up|close-ups|closeup|closeups", ("CLOSEUP", "close-up"))
_add("wide|long|distant", ("FRAMING", "wide"))
_add("close|closer|tight", ("FRAMING", "close-up"))
_add("mid", ("FRAMING", "medium"))

# Counting and reference.
NUMBER_WORDS: dict[int, str] = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}  # 4+: to say "too many"
for _n, _word in NUMBER_WORDS.items():
    _add(f"{_word}|{_n}", ("NUM", _n))
_add("a pair of|pair of|a couple of|couple of", ("NUM", 2))
_add("single", ("NUM", 1))
_add("both", ("DET_DEF", None), ("NUM", 2))
for _n, _word in ((1, "first"), (2, "second"), (3, "third"), ("other", "other")):
    _add(_word, ("ORD", _n))
_add("a|an|another|some", ("DET_NEW", None))
_add("the|this|these|those", ("DET_DEF", None))
_add("it|itself", ("PRON", 1))
_add("they|them|themselves", ("PRON", 2))
_add("and", ("AND", None))
_add(",|:", ("COMMA", None))
_add(".|!|?|;", ("END", None))
_add("very|plain|bright|solid|pure|continuous|hard|uniform", ("NPFILL", None))
STOPWORDS = (
    "there|is|are|was|were|be|being|been|s|we|you|see|sees|seeing|shows|show|showing|shown|video|videos|clip"
    "|scene|image|picture|frame|frames|screen|has|have|having|while|as|then|also|that|which|who|where|starts|start"
    "|starting|started|begins|begin|beginning|began|initially|at first|across|along|over|above|around|throughout"
    "|whole|all|everything|happens|happen|its|their|by|joined|separated|followed|after|later|finally|next|just"
    "|entire|gets|get|getting|becomes|become|made|consists|size|again|meanwhile|direction|air|through the air"
    "|along the bottom|does|holds|here|now|smoothly|steadily|in place|in size|makes|up to"
)
_add(STOPWORDS, ("FILL", None))


_LONGEST: dict[str, int] = {}  # first word -> longest phrase starting with it
for _key in LEXICON:
    _LONGEST[_key[0]] = max(_LONGEST.get(_key[0], 0), len(_key))


def tokenize(text: str) -> tuple[list[Token], list[str]]:
    """Tokens of `text` (longest phrase first) and the words no phrase covers, in order."""
    ws = words(text)
    tokens: list[Token] = []
    unknown: list[str] = []
    i = 0
    while i < len(ws):
        longest = _LONGEST.get(ws[i], 0)
        for n in range(min(longest, len(ws) - i), 0, -1):
            found = LEXICON.get(tuple(ws[i : i + n]))
            if found is not None:
                tokens.extend(found)
                i += n
                break
        else:
            unknown.append(ws[i])
            i += 1
    return tokens, unknown


# --- what location words mean ------------------------------------------------------------------


def region_parts(found: list[str]) -> dict[str, str]:
    """The parts a start region's words name: "h" (left / center / right), "v" (top / bottom / floor).

    "center" and "middle" are horizontal unless a side is named ("middle left"); an unnamed vertical
    part is the middle, an unnamed horizontal one the center, except on the floor (see drafts).
    """
    parts: dict[str, str] = {}
    if set(found) & {"center", "centre", "middle"} and not set(found) & {"left", "right"}:
        parts["h"] = "center"
    for word in found:
        part, value = {
            "left": ("h", "left"), "right": ("h", "right"), "top": ("v", "top"), "upper": ("v", "top"),
            "up": ("v", "top"), "bottom": ("v", "bottom"), "lower": ("v", "bottom"), "down": ("v", "bottom"),
            "floor": ("v", "floor"),
        }.get(word, (None, None))
        if part is None:
            continue  # center / middle: handled above
        if parts.get(part, value) != value:
            raise PromptError(f"a start region cannot be both {parts[part]} and {value}")
        parts[part] = value
    return parts


def direction_key(found: list[str], flip: bool) -> str | None:
    """The DIRECTIONS key of a direction's words ("up and to the left": "up-left"); flip for "from".

    None when the words name no direction ("falls to the floor").
    """
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


# --- geometry of start regions -----------------------------------------------------------------

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


FRAMING_ZOOM: dict[str, float] = {"wide": 0.6, "medium": 1.0, "close-up": 1.6}  # see Shot.framing
