"""What a prompt asks for: a `Scene` spec (parsed from text, or given) turned into checks.

Contract: `expectation(prompt_or_scene, width=, height=, frames=)` returns the `Scene` the video is
judged against. A string goes through `kinema.world.parse.parse_prompt`, which leaves x, y and
speed None where the prompt does not state them; a `Scene` (or its dict) is taken as is, so a
placed scene is judged on its exact start positions and speeds. `applies(scene, frames)` lists the
categories that the scene makes checkable: a metric that does not apply scores None and does not
count (a still image has no motion to judge, a one-shot video no identity across shots);
`unstated(text)` names those a text prompt leaves to the parser's defaults (size, camera).

Categories (the order of every report):
color, shape, count, size, position, direction, speed, physics, spin, grow_shrink, camera,
permanence, identity, causality, smoothness, quality.
"""

from __future__ import annotations

from typing import Any

from kinema.world.scene import TRANSLATING, Scene

CATEGORIES: tuple[str, ...] = (
    "color",
    "shape",
    "count",
    "size",
    "position",
    "direction",
    "speed",
    "physics",
    "spin",
    "grow_shrink",
    "camera",
    "permanence",
    "identity",
    "causality",
    "smoothness",
    "quality",
)
MIN_MOTION_FRAMES = 5  # fewer frames cannot show a direction, a speed or a law of motion
# Motions with a law the physics metric checks; spin/grow/shrink have their own categories.
PHYSICS_MOTIONS = frozenset({"still", "slide", "bounce", "fall", "throw"})
DIRECTED_MOTIONS = TRANSLATING | {"bounce", "throw"}


def expectation(prompt: str | Scene | dict[str, Any], *, width: int = 64, height: int = 64, frames: int = 33) -> Scene:
    """The scene a video must show, from prompt text, a `Scene` or a scene dict."""
    if isinstance(prompt, Scene):
        return prompt
    if isinstance(prompt, dict):
        return Scene.from_dict(prompt)
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"prompt must be non-empty text, a Scene or a scene dict, got {prompt!r}")
    try:
        from kinema.world.parse import parse_prompt
    except ImportError as error:  # the parser lands separately; say so rather than guess
        raise ValueError("scoring a text prompt needs kinema.world.parse (parse_prompt), which is not installed") from error
    return parse_prompt(prompt, width=width, height=height, frames=frames)


def unstated(prompt: str) -> set[str]:
    """Categories a text prompt leaves open, so the parser's defaults must not be held against a
    video: no size word (the parser says "medium"), nothing about the camera (it says "still")."""
    from kinema.world.grammar import tokenize

    kinds = {t.kind for t in tokenize(prompt)[0]}
    out = set()
    if "SIZE" not in kinds:
        out.add("size")
    if not kinds & {"CAMERA", "PAN", "ZOOM"}:
        out.add("camera")
    return out


def applies(scene: Scene, frames: int) -> dict[str, bool]:
    """Which categories this scene makes checkable in a video of `frames` frames."""
    moving = frames >= MIN_MOTION_FRAMES
    motions = {o.motion for o in scene.objects}
    kinds = {i.kind for i in scene.interactions}
    # Objects in an interaction follow its law (causality), not their own motion's.
    involved = {i.subject for i in scene.interactions} | {i.other for i in scene.interactions}
    directed = any(o.motion in DIRECTED_MOTIONS and o.direction is not None for o in scene.objects)
    return {
        "color": True,
        "shape": True,
        "count": True,
        "size": True,
        "position": any(o.x is not None or o.y is not None for o in scene.objects if o.motion != "enter"),
        "direction": moving and directed,
        "speed": moving and any(_has_speed(o.motion, o.direction) for o in scene.objects),
        "physics": moving and any(o.motion in PHYSICS_MOTIONS for i, o in enumerate(scene.objects) if i not in involved),
        "spin": moving and "spin" in motions,
        "grow_shrink": moving and bool(motions & {"grow", "shrink"}),
        "camera": frames >= 2,
        "permanence": moving,
        "identity": len([s for s in scene.shots if s.start < frames]) > 1,
        "causality": moving and bool(kinds),
        "smoothness": frames >= 3,
        "quality": True,
    }


def _has_speed(motion: str, direction: str | None) -> bool:
    """Motions whose speed a video shows: translation, drift, throws and spin."""
    if motion in TRANSLATING or motion in ("throw", "spin"):
        return True
    return motion == "bounce" and direction is not None
