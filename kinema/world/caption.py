"""Captions of world scenes: detailed (what the model trains on), short (what people type), and the
facts both state.

Contract (shared/WORLD.md, Captions):
- `scene_facts(scene)` is the caption-level truth of a scene: per object its color, shape, size,
  motion, direction, start region (`regions.start_region`), speed word and trail; the interactions;
  the background, the floor, the camera motion and the framing of each shot. Positions finer than a
  region, exact speeds, depths and texture are below caption level.
- `detailed_caption(scene, rng)` states every fact in plain sentences, DALL-E 3 recaption style.
  With rng=None it is one canonical caption; with a numpy Generator it paraphrases: synonyms,
  verbs, sentence templates and order, articles, numbers as words. Every paraphrase parses back:
  `scene_facts(parse_prompt(detailed_caption(s, rng))) == scene_facts(s)`.
- `short_caption(scene, rng)` is what a person types ("red ball bouncing right"): the main object
  (`main_object`), its motion and direction, and its interaction partner; it parses back to the
  main object's color, shape, motion and direction.
- Captions never say what the scene does not show: each word comes from a fact. Beyond the facts,
  a close-up names the object it frames when only one is near its middle at the cut
  (`close_up_subjects`, from the physics), so that shot sentences come after the objects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from kinema.world.grammar import (
    BACKGROUND_WORDS,
    CAMERA_SENTENCES,
    DIR_PHRASES,
    FRAMING_NOUNS,
    NUMBER_WORDS,
    ORDINALS,
    SHAPE_WORDS,
    SHORT_CAMERA,
    SHORT_DIRS,
    SHORT_SHAPES,
    SIZE_WORDS,
    SPEED_WORDS,
    SPIN_PHRASES,
    plural,
)
from kinema.world.palette import COLOR_SYNONYMS, OPPOSITE
from kinema.world.physics import motion_at
from kinema.world.regions import speed_word, start_region
from kinema.world.scene import Interaction, Scene


def scene_facts(scene: Scene) -> dict[str, Any]:
    """The canonical, caption-level facts of `scene` (see module doc); equal facts, same captions."""
    objects = tuple(
        {
            "color": o.color, "shape": o.shape, "size": o.size, "motion": o.motion, "direction": o.direction,
            "region": start_region(scene, o), "speed": speed_word(o), "trail": o.trail,
        }
        for o in scene.objects
    )
    # A collision has no subject: the pair is unordered.
    interactions = {
        (it.kind, *sorted((it.subject, it.other))) if it.kind == "collide" else (it.kind, it.subject, it.other)
        for it in scene.interactions
    }
    return {
        "objects": objects,
        "interactions": tuple(sorted(interactions)),
        "background": scene.background,
        "floor": scene.floor,
        "camera": scene.camera.motion,
        "shots": tuple(s.framing for s in scene.shots),
    }


def close_up_subjects(scene: Scene) -> dict[int, int]:
    """Shot index -> the object a close-up frames: the only one near its view's middle at the cut."""
    shots = [(k, s) for k, s in enumerate(scene.shots) if s.framing == "close-up"]
    if not shots or not scene.placed:
        return {}
    centers = motion_at(scene, np.array([s.start / scene.fps for _, s in shots])).center  # (shots, objects, 2) px
    out = {}
    for row, (k, shot) in enumerate(shots):
        reach = 0.25 / shot.zoom  # a quarter of the view on each side of its middle
        near = [i for i, (x, y) in enumerate(centers[row])
                if abs(x / scene.width - shot.cx) < reach and abs(y / scene.height - shot.cy) < reach]
        if len(near) == 1:
            out[k] = near[0]
    return out


def main_object(scene: Scene) -> int:
    """The object a short caption is about: an interaction's subject, else the first that moves."""
    if scene.interactions:
        return scene.interactions[0].subject
    return next((i for i, o in enumerate(scene.objects) if o.motion != "still"), 0)


class _Say:
    """Word choice: the first option without a generator (canonical), a random one with it."""

    def __init__(self, rng: np.random.Generator | None) -> None:
        self.rng = rng

    def pick(self, options: Sequence[str]) -> str:
        return options[0] if self.rng is None else options[int(self.rng.random() * len(options))]

    def chance(self, p: float) -> bool:
        return self.rng is not None and bool(self.rng.random() < p)

    def color(self, name: str) -> str:
        return self.pick((name, *COLOR_SYNONYMS[name]))

    def shape(self, name: str, many: bool = False) -> str:
        noun = self.pick(SHAPE_WORDS[name])
        return plural(noun) if many else noun


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _verbs(text: str, many: bool) -> str:
    """Conjugate the <verbs> of a template for a plural subject ("<bounces>" -> "bounce")."""

    def one(m: re.Match[str]) -> str:
        word = m.group(1)
        if not many:
            return word
        irregular = {"is": "are", "does": "do", "goes": "go", "flies": "fly", "its": "their", "it": "them"}
        if word in irregular:
            return irregular[word]
        return word[:-2] if word.endswith(("sses", "shes", "ches", "xes")) else word[:-1]

    return re.sub(r"<(\w+)>", one, text)


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().replace(" ,", ",")
    return text[0].upper() + text[1:] + "."


# --- detailed captions ---------------------------------------------------------------------------


def detailed_caption(scene: Scene, rng: np.random.Generator | None = None) -> str:
    """Every fact of `scene` in plain sentences; paraphrased when `rng` is given (see module doc)."""
    say = _Say(rng)
    facts = scene_facts(scene)
    objs = facts["objects"]
    groups: list[list[int]] = []  # consecutive objects with equal facts are said at once ("two balls")
    for i, f in enumerate(objs):
        if groups and objs[groups[-1][0]] == f and (rng is None or say.chance(0.7)):
            groups[-1].append(i)
        else:
            groups.append([i])
    inline = rng is None or say.chance(0.5)
    body = []
    for n, group in enumerate(groups):
        seen = any(objs[j]["color"] == objs[group[0]]["color"] and objs[j]["shape"] == objs[group[0]]["shape"] for j in range(group[0]))
        setting = _setting_phrase(scene, say) if inline and n == 0 else ""
        body.append(_intro(objs[group[0]], len(group), say, setting, seen))
    body += [_interaction(objs, it, say) for it in scene.interactions]
    front: list[str] = []
    back: list[str] = []
    extras = [] if inline else [_setting_sentence(scene, say)]
    extras += [say.pick(CAMERA_SENTENCES[scene.camera.motion])]
    for sentence in extras:
        (front if say.chance(0.3) else back).append(sentence)
    # A close-up names what it shows ("a close-up on the red ball"), so it comes after the objects.
    focus = {k: _ref(objs, i, say) for k, i in close_up_subjects(scene).items()}
    shots = _shots_sentence(facts["shots"], say, focus)
    if shots:
        (front if say.chance(0.3) and not focus else back).append(shots)
    return " ".join(front + body + back)


def _intro(f: dict[str, Any], n: int, say: _Say, setting: str, seen: bool) -> str:
    """One sentence introducing `n` objects with facts `f`."""
    many = n > 1
    size = say.pick(SIZE_WORDS[f["size"]] + (("",) if f["size"] == "medium" else ()))
    looks = " ".join(w for w in (size, say.color(f["color"]), say.shape(f["shape"], many)) if w)
    if many:
        np_ = f"{say.pick((NUMBER_WORDS[n], 'a pair of') if n == 2 else (NUMBER_WORDS[n],))} {looks}"
    else:
        det = "another" if seen and say.chance(0.5) else "one" if say.chance(0.15) else _article(looks)
        np_ = f"{det} {looks}"
    vp = _verbs(_motion_phrase(f, say), many)
    trail = _verbs(_trail_phrase(f, many, say), many) if f["trail"] else ""
    if f["region"] is None:
        forms = ["{np} {vp}", "there <is> {np} that {vp}"]
    elif f["motion"] == "still":
        forms = ["{np} {vp} {r}", "{r}, {np} {vp}", "{np} {r} {vp}"]
    else:
        forms = ["{np} <starts> {r} and {vp}", "{r}, {np} {vp}", "{np}, {starting} {r}, {vp}", "{np} {vp}, {starting} {r}",
                 "there <is> {np} {r} that {vp}", "{np} {r} {vp}"]
    text = say.pick(forms).format(np=np_, vp=vp, r=_region_phrase(f["region"], say) if f["region"] else "",
                                  starting=say.pick(("starting", "beginning")))
    return _sentence(_verbs(text, many) + setting + trail)


def _region_phrase(region: tuple[str, str], say: _Say) -> str:
    h, v = region
    if v == "floor":
        if h == "center":
            return say.pick(("in the middle of the floor", "on the floor in the center", "in the center of the floor"))
        return say.pick((f"on the {h} of the floor", f"on the floor on the {h}", f"on the {h} side of the floor", f"at the {h} end of the floor"))
    if v == "middle":
        if h == "center":
            return say.pick(("in the center", "in the middle", "at the center"))
        return say.pick((f"on the {h}", f"on the {h} side", f"at the {h}"))
    edge = say.pick(("top", "upper") if v == "top" else ("bottom", "lower"))
    if h == "center":
        return say.pick((f"at the {v}", f"near the {v}", f"at the {v} center", f"in the {edge} middle"))
    return say.pick((f"at the {v} {h}", f"in the {v} {h} corner", f"in the {edge} {h}", f"near the {v} {h}"))


def _edge(direction: str, say: _Say) -> str:
    """The edge or corner of the frame that lies in `direction`."""
    if "-" in direction:
        v, h = direction.split("-")
        top = "top" if v == "up" else "bottom"
        return say.pick((f"{top} {h} corner", f"{'upper' if v == 'up' else 'lower'} {h} corner", f"{top} {h}"))
    name = {"up": "top", "down": "bottom"}.get(direction, direction)
    return say.pick((f"{name} edge", f"{name} side", name) if name in ("left", "right") else (f"{name} edge", name))


def _motion_phrase(f: dict[str, Any], say: _Say) -> str:
    """The verb phrase of an object's motion, direction and speed; verbs in <> for conjugation."""
    m, d = f["motion"], f["direction"]
    on_floor = f["region"] is not None and f["region"][1] == "floor"
    way = say.pick(DIR_PHRASES[d]) if d in DIR_PHRASES else ""
    if m == "still":
        forms = ["<rests>", "<sits>", "<lies>", "<stays> still", "<rests> motionless"] if on_floor else \
            ["<stays> still", "<sits> still", "<hangs> still", "<hovers>", "<remains> still", "<floats> motionless", "<is> motionless"]
    elif m == "slide":
        rolls = f["shape"] == "circle" and on_floor and d in ("left", "right")  # a ball rolls along the floor only
        forms = [f"<{v}> {way}" for v in (("rolls",) if rolls else ()) + ("slides", "moves", "glides", "travels")]
    elif m == "bounce":
        forms = [f"<bounces> toward the {d}", f"<bounces> {way}", f"<hops> {way}", f"<bounces> along {way}", f"<bounces> with drift {way}"] if d else \
            ["<bounces> in place", "<bounces> up and down", "<bounces>", "<hops> in place"]
    elif m == "fall":
        forms = ["<falls> and <comes> to rest", "<drops> and <comes> to rest", "<falls>, <bounces> and <settles>", "<falls>", "<drops>"]
        forms += ["<falls> to the floor and <settles>"] if on_floor else []
    elif m == "throw":
        forms = [f"<is> thrown {way} in an arc", f"<is> tossed {way}", f"<flies> in an arc {way}", f"<arcs> through the air {way}", f"<is> lobbed {way}"]
    elif m == "spin":
        spin = say.pick(SPIN_PHRASES[d])
        forms = [f"<spins> {spin}", f"<rotates> {spin}", f"<turns> {spin}", f"<spins> {spin} in place", f"<rotates> in place {spin}"]
    elif m == "grow":
        forms = ["<grows>", "<grows> larger", "<gets> bigger", "<expands>", "<doubles> in size", "<grows> to twice <its> size"]
    elif m == "shrink":
        forms = ["<shrinks>", "<gets> smaller", "<shrinks> to half <its> size", "<contracts>"]
    elif m == "enter":
        edge = _edge("-".join(OPPOSITE[p] for p in d.split("-")), say)
        forms = [f"<enters> from the {edge}", f"<comes> in from the {edge}", f"<enters> the frame from the {edge}",
                 f"<slides> in from the {edge}", f"<appears> from the {edge}"]
    else:  # exit / return
        edge = _edge(d, say)
        forms = [f"<leaves> through the {edge}", f"<exits> through the {edge}", f"<exits> {way}", f"<leaves> the frame through the {edge}",
                 f"<slides> out through the {edge}", f"<moves> off the {edge}", f"<slides> out of the frame {way}"]
        if m == "return":
            forms = [p + say.pick((" and <comes> back", " and <returns>", ", then <comes> back in", " and back")) for p in forms]
    phrase = say.pick(forms)
    speed = f["speed"]
    if speed is not None:  # canonical: right after the verb; else before it or at the end
        word = say.pick(SPEED_WORDS[speed][:4])
        verb_end = phrase.index(">") + 1
        phrase = say.pick((f"{phrase[:verb_end]} {word}{phrase[verb_end:]}", f"{word} {phrase}", f"{phrase} {word}"))
    return phrase


def _trail_phrase(f: dict[str, Any], many: bool, say: _Say) -> str:
    c = say.color(f["color"])
    if many:
        return say.pick((f", leaving {c} trails", f" and <leaves> {c} trails", f", trailing {c} streaks", f" with {c} trails"))
    return say.pick((f", leaving a {c} trail", f", leaving a {c} trail behind it", f" and <leaves> a {c} trail",
                     f", painting a {c} line behind it", f", trailing a {c} streak", f" with a {c} trail", ", leaving a trail"))


def _setting_phrase(scene: Scene, say: _Say) -> str:
    bg = say.pick(BACKGROUND_WORDS[scene.background])
    where = say.pick(("across", "on", "against", "over"))
    noun = say.pick(("background", "backdrop"))
    floor = say.pick((" with a gray floor", " above a gray floor", " with a gray floor along the bottom", " and a gray floor")) \
        if scene.floor else say.pick((" with no floor", " and no floor", " without a floor"))
    return f" {where} {_article(bg)} {bg} {noun}{floor}"


def _setting_sentence(scene: Scene, say: _Say) -> str:
    bg = say.pick(BACKGROUND_WORDS[scene.background])
    floor = say.pick((" with a gray floor", ", and there is a gray floor along the bottom", " above a gray floor")) \
        if scene.floor else say.pick((" and there is no floor", ", with no floor", " without a floor"))
    return say.pick((
        f"The background is {bg}{floor}.",
        f"It all happens on {_article(bg)} {bg} background{floor}.",
        f"The scene has {_article(bg)} {bg} background and {'a gray floor' if scene.floor else 'no floor'}.",
    ))


def _shots_sentence(framings: tuple[str, ...], say: _Say, focus: dict[int, str]) -> str | None:
    if len(framings) == 1:
        if framings[0] == "medium":
            return say.pick(("The video is one continuous shot.", "It is a single shot.")) if say.chance(0.3) else None
        f = framings[0]
        return say.pick((f"The video is a single {f} shot.", f"It is one continuous {f} shot.", f"The whole clip is one {f} shot."))
    names = [say.pick(FRAMING_NOUNS[f]) + (f" {say.pick(('on', 'of'))} {focus[k]}" if k in focus else "") for k, f in enumerate(framings)]
    n = NUMBER_WORDS[len(framings)]
    return say.pick((
        f"The video has {n} shots joined by {'a hard cut' if len(names) == 2 else 'hard cuts'}: {', then '.join(names)}.",
        f"There are {n} shots separated by hard cuts: {', '.join(names[:-1])} and {names[-1]}.",
        f"It is made of {n} shots: first {names[0]}, then after a hard cut {', then '.join(names[1:])}.",
        f"The video cuts from {names[0]} to {' and then to '.join(names[1:])}.",
    ))


def _ref(objs: tuple[dict[str, Any], ...], i: int, say: _Say, still: bool = False) -> str:
    """A definite description that picks object `i` alone ("the red ball", "the second small red ball")."""
    f = objs[i]

    def alike(attrs: tuple[str, ...]) -> list[int]:
        return [j for j, g in enumerate(objs) if all(g[a] == f[a] for a in attrs)]

    unique = [a for a in (("color", "shape"), ("shape",), ("size", "color", "shape"), ("size", "shape")) if len(alike(a)) == 1]
    attrs = tuple(say.pick([" ".join(a) for a in unique]).split()) if unique else ("size", "color", "shape")
    words = ["still"] if still else []
    if not unique:  # look-alikes: count them in order of mention
        words.insert(0, ORDINALS[alike(attrs).index(i)])
    words += [say.pick(SIZE_WORDS[f["size"]][:2]) if "size" in attrs else "", say.color(f["color"]) if "color" in attrs else "", say.shape(f["shape"])]
    return "the " + " ".join(w for w in words if w)


def _interaction(objs: tuple[dict[str, Any], ...], it: Interaction, say: _Say) -> str:
    fs, fo = objs[it.subject], objs[it.other]
    s, o = _ref(objs, it.subject, say), _ref(objs, it.other, say)
    slides = fs["motion"] == "slide"
    if it.kind == "push":
        way = f" {say.pick(DIR_PHRASES[fs['direction']])}" if fs["direction"] in DIR_PHRASES and (say.rng is None or say.chance(0.7)) else ""
        o_still = _ref(objs, it.other, say, still=fo["motion"] == "still")
        move = "rolls" if fs["shape"] == "circle" and fs["region"] is not None and fs["region"][1] == "floor" and fs["direction"] in ("left", "right") else "slides"
        forms = [f"{s} {move} into {o_still} and pushes it{way}"] if slides else []
        forms += [f"{s} pushes {o}{way}", f"{s} hits {o_still} and pushes it{way}", f"{s} strikes {o}, pushing it{way}",
                  f"{s} knocks into {o} and shoves it{way}", f"{s} {say.pick(('moves', 'glides', 'slides') if slides else ('moves',))} into {o_still} and pushes it{way}"]
    elif it.kind == "collide":
        forms = [f"{s} and {o} collide", f"{s} collides with {o}", f"{s} crashes into {o}", f"{s} and {o} meet and collide"]
        if slides and fo["motion"] == "slide":
            forms.append(f"{s} and {o} slide toward each other and collide")
        for attrs in (("shape",), ("color", "shape")):
            if {j for j, g in enumerate(objs) if all(g[a] == fs[a] for a in attrs)} == {it.subject, it.other} and all(fo[a] == fs[a] for a in attrs):
                color = say.color(fs["color"]) + " " if "color" in attrs else ""
                forms.append(f"the two {color}{say.shape(fs['shape'], True)} collide")
    elif it.kind == "pass_behind":
        forms = [f"{s} passes behind {o}", f"{s} moves behind {o}", f"{s} goes behind {o}"] + ([f"{s} slides behind {o}"] if slides else [])
    else:
        forms = [f"{s} passes in front of {o}", f"{s} crosses in front of {o}", f"{s} moves in front of {o}"]
    return _sentence(say.pick(forms))


# --- short captions ------------------------------------------------------------------------------


def short_caption(scene: Scene, rng: np.random.Generator | None = None) -> str:
    """What a person would type for `scene`: its main object, motion and partner (see module doc)."""
    say = _Say(rng)
    objs = scene_facts(scene)["objects"]
    m = main_object(scene)
    f = objs[m]
    head = f"{say.pick(SIZE_WORDS[f['size']][:1]) + ' ' if say.chance(0.3) else ''}{say.color(f['color'])} {say.shape(f['shape']) if rng is not None else SHORT_SHAPES[f['shape']]}"
    text = f"{head} {_short_motion(f, say)}"
    it = next((it for it in scene.interactions if it.subject == m), None)
    if it is not None:
        g = objs[it.other]
        noun = say.shape(g["shape"]) if rng is not None else SHORT_SHAPES[g["shape"]]
        other = f"{say.color(g['color'])} {noun}"
        a_other = f"{_article(other)} {other}"
        if it.kind == "push":
            text += say.pick((f" into {a_other}", f", pushing {a_other}"))
        elif it.kind == "collide":
            # "X and Y colliding" leaves the headings to the parser's default: the first goes right.
            if (f["motion"], f["direction"], g["motion"], g["direction"]) == ("slide", "right", "slide", "left") and say.chance(0.5):
                if (f["shape"], f["color"]) == (g["shape"], g["color"]):
                    text = f"two {say.color(f['color'])} {plural(noun)} colliding"
                elif f["shape"] == g["shape"]:
                    text = f"{say.color(f['color'])} and {say.color(g['color'])} {plural(noun)} colliding"
                else:
                    text = f"{head} and {other} colliding"
            else:
                text += f", colliding with {a_other}"
        else:
            where = "behind" if it.kind == "pass_behind" else "in front of"
            text += say.pick((f" {where} {a_other}", f", passing {where} {a_other}"))
    if f["trail"] and say.chance(0.4):
        text += say.pick((" with a trail", ", leaving a trail"))
    if say.chance(0.3):
        bg = say.pick(BACKGROUND_WORDS[scene.background])
        text += say.pick((f", {bg} background", f" on {_article(bg)} {bg} background"))
    if scene.camera.motion != "still" and say.chance(0.3):
        text += f", camera {SHORT_CAMERA[scene.camera.motion]}"
    return text


def _short_motion(f: dict[str, Any], say: _Say) -> str:
    m, d = f["motion"], f["direction"]
    way = say.pick(SHORT_DIRS[d]) if d in SHORT_DIRS else ""
    if m in ("enter", "exit", "return"):
        edge = _edge("-".join(OPPOSITE[p] for p in d.split("-")) if m == "enter" else d, say).replace(" corner", "").replace(" edge", "")
    options = {
        "still": ("resting", "sitting still", "standing still"),
        "slide": (f"sliding {way}", f"moving {way}", f"gliding {way}") + ((f"rolling {way}",) if f["shape"] == "circle" and d in ("left", "right") else ()),
        "bounce": (f"bouncing {way}", f"hopping {way}") if d else ("bouncing", "bouncing in place", "hopping"),
        "fall": ("falling", "dropping", "falling down"),
        "throw": (f"thrown {way}", f"tossed {way}", f"flying in an arc {way}"),
        "spin": tuple(f"{v} {say.pick(SPIN_PHRASES[d])}" for v in ("spinning", "rotating", "turning")) if m == "spin" else (),
        "grow": ("growing", "getting bigger", "expanding"),
        "shrink": ("shrinking", "getting smaller"),
        "enter": (f"entering from the {edge}", f"coming in from the {edge}") if m == "enter" else (),
        "exit": (f"exiting {way}", f"leaving {way}", f"leaving through the {edge}") if m == "exit" else (),
        "return": (f"leaving {way} and coming back", f"exiting {way} and returning", f"going out {way} and coming back"),
    }
    phrase = say.pick(options[m])
    if f["speed"] is not None and say.chance(0.3):
        phrase = f"{say.pick(SPEED_WORDS[f['speed']][:3])} {phrase}"
    return phrase
