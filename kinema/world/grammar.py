"""The caption grammar's words: what captions say and what prompts may say.

Both halves of the caption contract read from here: `kinema.world.caption` writes sentences with
these words and `kinema.world.parse` reads them back, so a word added here is understood in both.

- `LEXICON` maps every known phrase (a tuple of lowercase words; hyphens and apostrophes split
  words, so "snow-white" is ("snow", "white")) to the grammar tokens it stands for. `tokenize`
  matches phrases longest first, so "navy blue" is a color, "zooms in" a camera move and "in an
  arc" a throw before "blue" or "in" alone are looked at. `KINDS` says what each token kind means.
- Caption phrases (`DIR_PHRASES`, `CAMERA_SENTENCES`, ...) are the words captions choose from,
  first the canonical one; every one of them tokenizes to what it says.
- `vocabulary()` lists the known words by category, for help texts and error hints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kinema.world.palette import COLOR_SYNONYMS, SHAPE_SYNONYMS

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
    "|double|doubles|doubling|to twice its size|to twice their size|twice as big|twice as large",
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


# Phrases by first word, longest first, so that tokenizing looks only at phrases that can match.
_SINGLE: dict[str, tuple[Token, ...]] = {key[0]: toks for key, toks in LEXICON.items() if len(key) == 1}
_LONGER: dict[str, list[tuple[list[str], tuple[Token, ...]]]] = {}
for _key, _toks in sorted(LEXICON.items(), key=lambda item: -len(item[0])):
    if len(_key) > 1:
        _LONGER.setdefault(_key[0], []).append((list(_key[1:]), _toks))


def tokenize(text: str) -> tuple[list[Token], list[str]]:
    """Tokens of `text` (longest phrase first) and the words no phrase covers, in order."""
    ws = words(text)
    tokens: list[Token] = []
    unknown: list[str] = []
    i = 0
    while i < len(ws):
        w = ws[i]
        for tail, found in _LONGER.get(w, ()):
            if ws[i + 1 : i + 1 + len(tail)] == tail:
                tokens.extend(found)
                i += 1 + len(tail)
                break
        else:
            if w in _SINGLE:
                tokens.extend(_SINGLE[w])
            else:
                unknown.append(w)
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


# --- the words captions choose from (the first of each is canonical) -----------------------------

ORDINALS = ("first", "second", "third")
# Direction phrases; the first is canonical. Every one parses to its key.
DIR_PHRASES: dict[str, tuple[str, ...]] = {
    "left": ("to the left", "toward the left", "left", "leftward", "to the left side", "towards the left"),
    "right": ("to the right", "toward the right", "right", "rightward", "to the right side", "towards the right"),
    "up": ("upward", "up", "toward the top", "upwards"),
    "down": ("downward", "down", "toward the bottom", "downwards"),
}
for _v, _vv in (("up", ("upper", "top")), ("down", ("lower", "bottom"))):
    for _h in ("left", "right"):
        DIR_PHRASES[f"{_v}-{_h}"] = (f"{_v} and to the {_h}", f"diagonally {_v}-{_h}", f"toward the {_vv[0]} {_h}",
                                     f"toward the {_vv[1]} {_h}", f"{_v}-{_h}")
SHORT_DIRS: dict[str, tuple[str, ...]] = {
    **{d: (d, f"to the {d}", f"{d}ward") for d in ("left", "right")}, "up": ("up", "upward"), "down": ("down", "downward"),
    **{f"{v}-{h}": (f"{v}-{h}", f"{v} and {h}", f"diagonally {v}-{h}") for v in ("up", "down") for h in ("left", "right")},
}
SPIN_PHRASES = {"clockwise": ("clockwise",), "counterclockwise": ("counterclockwise", "counter-clockwise", "anticlockwise")}
FRAMING_NOUNS = {
    "wide": ("a wide shot", "a long shot", "a distant shot"),
    "medium": ("a medium shot", "a mid shot"),
    "close-up": ("a close-up", "a close-up shot", "a tight shot", "a closer shot"),
}
CAMERA_SENTENCES: dict[str, tuple[str, ...]] = {
    "still": ("The camera is still.", "The camera stays still.", "The camera does not move.", "The camera is static.",
              "The view stays fixed.", "The camera holds still."),
    "pan_left": ("The camera pans left.", "The camera pans to the left.", "The camera slowly pans left.",
                 "The view pans toward the left.", "The camera is panning left."),
    "zoom_in": ("The camera zooms in.", "The camera slowly zooms in.", "The view zooms in.", "The camera pushes in."),
    "zoom_out": ("The camera zooms out.", "The camera slowly zooms out.", "The camera pulls back.", "The view zooms out."),
}
CAMERA_SENTENCES["pan_right"] = tuple(s.replace("left", "right") for s in CAMERA_SENTENCES["pan_left"])
SHORT_SHAPES = {"circle": "ball", "square": "box", "triangle": "triangle"}  # canonical short-caption nouns
SHORT_CAMERA = {"pan_left": "panning left", "pan_right": "panning right", "zoom_in": "zooming in", "zoom_out": "zooming out"}


VOCABULARY_KINDS: dict[str, tuple[str, ...]] = {
    "colors": ("COLOR",), "shapes": ("SHAPE", "GENERIC"), "sizes": ("SIZE",), "motions": ("MOTION", "STILL", "LEAVE"),
    "directions": ("LOC", "DIRWORD", "SPIN", "EACH_OTHER"), "speeds": ("SPEED",), "trails": ("TRAIL", "TRAILING"),
    "interactions": ("INTER",), "backgrounds": ("BG",), "floor": ("FLOOR", "NOFLOOR", "GRAY"),
    "camera": ("CAMERA", "PAN", "ZOOM"), "shots": ("SHOT", "CUT", "CLOSEUP", "FRAMING"),
    "numbers": ("NUM", "ORD"),
    # Words that only steer the reading: articles (new object or one mentioned), prepositions (region,
    # direction or second object), pronouns. Stopwords carry nothing and are skipped.
    "function_words": ("DET_NEW", "DET_DEF", "P_REGION", "P_DIR", "P_FROM", "P_OBL", "PRON"), "stopwords": ("FILL", "GFILL", "NPFILL", "AND"),
}


def vocabulary() -> dict[str, list[str]]:
    """The words and phrases the grammar knows, by category (for help texts)."""
    out: dict[str, list[str]] = {name: [] for name in VOCABULARY_KINDS}
    for key, tokens in LEXICON.items():
        for name, kinds in VOCABULARY_KINDS.items():
            if tokens[0].kind in kinds and key[0].isalnum():
                out[name].append(" ".join(key))
    return {name: sorted(found) for name, found in out.items()}
