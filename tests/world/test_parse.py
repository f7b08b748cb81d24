"""The caption-grammar parser reads what people type, names what it cannot read, and refuses the impossible."""

from __future__ import annotations

import numpy as np
import pytest

from kinema.world.caption import scene_facts
from kinema.world.regions import resting_y
from kinema.world.palette import COLOR_SYNONYMS, SHAPE_SYNONYMS
from kinema.world.parse import ParseResult, PromptError, parse_prompt, parse_prompt_lenient, vocabulary
from kinema.world.scene import Interaction, Scene


def _looks(scene: Scene) -> list[tuple[str, str, str, str, str | None]]:
    return [(o.color, o.shape, o.size, o.motion, o.direction) for o in scene.objects]


# (prompt, [(color, shape, size, motion, direction) per object]); what people type, in many forms.
PHRASINGS = [
    ("a small red circle bounces to the right", [("red", "circle", "small", "bounce", "right")]),
    ("red ball bouncing right", [("red", "circle", "medium", "bounce", "right")]),
    ("blue box sliding left", [("blue", "square", "medium", "slide", "left")]),
    ("a large blue square slides to the left", [("blue", "square", "large", "slide", "left")]),
    ("two blue boxes sliding left on a night background", [("blue", "square", "medium", "slide", "left")] * 2),
    ("A pair of tiny emerald wedges drop", [("green", "triangle", "small", "fall", None)] * 2),
    ("three white dots", [("white", "circle", "medium", "still", None)] * 3),
    ("a big golden cube moves leftward", [("yellow", "square", "large", "slide", "left")]),
    ("an azure ball rolls from left to right", [("blue", "circle", "medium", "slide", "right")]),
    ("the lilac block glides diagonally up and to the left", [("purple", "square", "medium", "slide", "up-left")]),
    ("a navy blue disc slides toward the lower right", [("blue", "circle", "medium", "slide", "down-right")]),
    ("an amber triangle enters from the top", [("orange", "triangle", "medium", "enter", "down")]),
    ("a turquoise wedge comes in from the bottom left corner", [("cyan", "triangle", "medium", "enter", "up-right")]),
    ("a snow-white box exits through the right edge", [("white", "square", "medium", "exit", "right")]),
    ("a violet ball leaves through the left edge and comes back", [("purple", "circle", "medium", "return", "left")]),
    ("a rose ball is thrown to the left in an arc", [("pink", "circle", "medium", "throw", "left")]),
    ("a scarlet wedge spins counter-clockwise", [("red", "triangle", "medium", "spin", "counterclockwise")]),
    ("a teal box rotating", [("cyan", "square", "medium", "spin", "clockwise")]),
    ("an ivory cube grows to twice its size", [("white", "square", "medium", "grow", None)]),
    ("a magenta triangle gets smaller", [("pink", "triangle", "medium", "shrink", None)]),
    ("a red ball falls down and comes to rest", [("red", "circle", "medium", "fall", None)]),
    ("a red ball bounces in place", [("red", "circle", "medium", "bounce", None)]),
    ("a lime ball sits still", [("green", "circle", "medium", "still", None)]),
    ("a ball", [("red", "circle", "medium", "still", None)]),
    ("red and blue balls sliding right", [("red", "circle", "medium", "slide", "right"), ("blue", "circle", "medium", "slide", "right")]),
    ("a red ball starts on the left. The ball bounces toward the right.", [("red", "circle", "medium", "bounce", "right")]),
    ("a red ball and a blue box. The box spins clockwise and the ball rests.",
     [("red", "circle", "medium", "still", None), ("blue", "square", "medium", "spin", "clockwise")]),
    ("a spinning object", [("red", "square", "medium", "spin", "clockwise")]),
]


@pytest.mark.parametrize(("prompt", "objects"), PHRASINGS)
def test_user_phrasings(prompt: str, objects: list[tuple[str, str, str, str, str | None]]) -> None:
    assert _looks(parse_prompt(prompt)) == objects


def test_defaults_and_purity() -> None:
    scene = parse_prompt("a ball")
    assert (scene.width, scene.height, scene.frames) == (64, 64, 33)
    assert scene.background == "black" and scene.floor and scene.camera.motion == "still"
    assert len(scene.shots) == 1 and scene.shots[0].framing == "medium"
    (ball,) = scene.objects
    assert ball.x is None and ball.y is None and ball.speed is None and not ball.placed  # placing is not parsing
    assert parse_prompt("a ball", width=96, height=64, frames=17).width == 96


def test_setting_camera_and_shots() -> None:
    scene = parse_prompt("A green ball bounces, the camera pans left, charcoal background, no floor.")
    assert (scene.background, scene.floor, scene.camera.motion) == ("charcoal", False, "pan_left")
    assert parse_prompt("a box on a forest-green backdrop, camera zooming out").camera.motion == "zoom_out"
    assert parse_prompt("a box. The view stays fixed.").camera.motion == "still"
    shots = parse_prompt("a box. The video has two shots joined by a hard cut: a wide shot, then a close-up.").shots
    assert [s.framing for s in shots] == ["wide", "close-up"] and [s.start for s in shots] == [0, 16]
    assert [s.framing for s in parse_prompt("a box, then it cuts to a close-up").shots] == ["medium", "close-up"]
    assert len(parse_prompt("a ball in three shots").shots) == 3


def test_regions_speeds_and_trails() -> None:
    box = parse_prompt("a large blue box rests in the middle of the floor").objects[0]
    assert (box.x, box.y) == (0.5, pytest.approx(resting_y("square", "large", "still", 64, 64)))
    ball = parse_prompt("On the top left, a red ball slowly slides right, leaving a red trail").objects[0]
    assert ball.x < 1 / 3 and ball.y < 1 / 3 and ball.speed == pytest.approx(0.18) and ball.trail
    assert parse_prompt("a red ball slides quickly to the left").objects[0].speed == pytest.approx(0.42)
    assert parse_prompt("a red ball bounces quickly").objects[0].speed is None  # speed words size slides only
    bouncer = parse_prompt("a red ball bounces on the floor on the left").objects[0]
    assert bouncer.x < 1 / 3 and bouncer.y is None  # where it bounces, not where it starts
    facts = scene_facts(parse_prompt("a ball starts at the bottom right and slides up"))["objects"][0]
    assert facts["region"] == ("right", "bottom")


def test_interactions() -> None:
    push = parse_prompt("The red ball rolls into the still blue box and pushes it to the right.")
    assert push.interactions == (Interaction("push", 0, 1),) and _looks(push)[1][3] == "still"
    assert _looks(push)[0] == ("red", "circle", "medium", "slide", "right")
    collide = parse_prompt("two balls colliding")
    assert collide.interactions == (Interaction("collide", 0, 1),)
    assert [o.direction for o in collide.objects] == ["right", "left"]
    assert collide.objects[0].color != collide.objects[1].color  # unnamed colors differ
    later = parse_prompt("A red ball starts on the right. A blue ball starts on the left. The red ball collides with the blue ball.")
    assert [o.direction for o in later.objects] == ["left", "right"]
    behind = parse_prompt("a red ball passes behind a blue box")
    assert behind.interactions == (Interaction("pass_behind", 0, 1),) and behind.objects[1].depth > behind.objects[0].depth
    front = parse_prompt("a red ball slides left in front of a blue box")
    assert front.interactions == (Interaction("pass_in_front", 0, 1),) and front.objects[0].depth > front.objects[1].depth
    hit = parse_prompt("a red ball slides right and hits a green box")
    assert hit.interactions == (Interaction("push", 0, 1),)
    assert parse_prompt("a red ball rolls into the frame from the left").interactions == ()
    assert parse_prompt("a ball bounces into a box").interactions == ()  # "into" is only a contact for slides
    bounce = parse_prompt("a red ball bounces behind a blue box")  # a pass only orders drawing
    assert bounce.interactions == (Interaction("pass_behind", 0, 1),) and _looks(bounce)[0][3] == "bounce"
    enter = parse_prompt("a red ball enters from the left and hits a blue box")
    assert enter.interactions == (Interaction("push", 0, 1),) and _looks(enter)[0][3:] == ("enter", "right")


def test_references_pick_one_object() -> None:
    scene = parse_prompt("A small red ball rests. Another small red ball slides left. The second small red ball pushes the first small red ball.")
    assert scene.interactions == (Interaction("push", 1, 0),)
    with pytest.raises(PromptError, match="could mean any of 2"):
        parse_prompt("a red ball and a blue ball. The ball bounces.")


@pytest.mark.parametrize(
    ("prompt", "match"),
    [
        ("a crimson disc spins clockwise", "circle cannot visibly spin"),
        ("a red ball slides left and right", "both left and right"),
        ("a red ball bounces and spins", "one motion"),
        ("four balls", "1 to 3 objects"),
        ("the camera zooms", "zooms in or zooms out"),
        ("a gray ball", "floor's color"),
        ("a ball rests on the floor with no floor", "floor"),
        ("a ball slides toward the center", "not a direction"),
        ("a red ball on a black background and a forest background", "several backgrounds"),
        ("slowly", "no object"),
        ("a red box spins to the left", "clockwise or counterclockwise"),
        ("a ball bounces and pushes a box", "only an object moving in a straight line"),
        ("a box grows to the left", "takes no direction"),
        ("a box in two shots: a wide shot, a close-up, then a wide shot", "2 shots"),
    ],
)
def test_impossible_prompts_say_why(prompt: str, match: str) -> None:
    with pytest.raises(PromptError, match=match):
        parse_prompt(prompt)


def test_unknown_words_are_named() -> None:
    with pytest.raises(PromptError) as err:
        parse_prompt("a purple dragon flies over the shiny ball")
    assert err.value.unknown_words == ["dragon", "shiny"]
    assert "'dragon'" in str(err.value) and "colors" in str(err.value) and "vocabulary()" in str(err.value)
    assert isinstance(err.value, ValueError)
    scene = parse_prompt("a purple dragon ball flies over the shiny ball", strict=False)
    assert isinstance(scene, Scene) and _looks(scene)[0][:2] == ("purple", "circle")
    lenient = parse_prompt_lenient("a cute red ball bounces happily")
    assert isinstance(lenient, ParseResult) and lenient.unknown_words == ["cute", "happily"]
    assert _looks(lenient.scene) == [("red", "circle", "medium", "bounce", None)]


def test_vocabulary_lists_the_grammar() -> None:
    vocab = vocabulary()
    assert {"colors", "shapes", "sizes", "motions", "directions", "backgrounds", "camera", "shots", "stopwords"} <= set(vocab)
    for color, synonyms in COLOR_SYNONYMS.items():
        assert {color, *(s.replace("-", " ") for s in synonyms)} <= set(vocab["colors"])
    for shape, synonyms in SHAPE_SYNONYMS.items():
        assert {shape, *synonyms} <= set(vocab["shapes"])
    assert {"and", "of", "across", "there", "is"} <= set(vocab["stopwords"])
    assert {"a", "the", "toward", "on", "from", "with", "it"} <= set(vocab["function_words"])
    known = {w for words in vocab.values() for w in words}
    assert all(parse_prompt(f"a ball {w}", strict=False) for w in ("bounces", "slides left")) and "dragon" not in known
    assert "bounces" in vocab["motions"] and "clockwise" in vocab["directions"]


def test_parsed_prompts_can_be_placed() -> None:
    sample = pytest.importorskip("kinema.world.sample")
    for prompt, _ in PHRASINGS:
        scene = parse_prompt(prompt)
        placed = sample.place(scene, np.random.default_rng(0))
        assert placed.placed and _looks(placed) == _looks(scene)


def test_what_people_say_about_floors_pronouns_and_the_passive() -> None:
    both = parse_prompt("a red ball slides right on the floor and a blue ball slides left on the floor, they collide")
    assert both.interactions == (Interaction("collide", 0, 1),)
    assert [o.x for o in both.objects] == [None, None] and both.objects[0].y == both.objects[1].y  # along the floor
    assert parse_prompt("a red ball bouncing on the floor").objects[0].y is None  # how high it starts is not said
    passive = parse_prompt("a box is pushed by a ball")
    assert passive.interactions == (Interaction("push", 1, 0),) and _looks(passive)[1][3] == "slide"
    camera = parse_prompt("the camera zooms in on a red ball bouncing")
    assert camera.camera.motion == "zoom_in" and _looks(camera) == [("red", "circle", "medium", "bounce", None)]
    shots = parse_prompt("a wide shot of a red ball bouncing, then a close-up")
    assert [s.framing for s in shots.shots] == ["wide", "close-up"] and _looks(shots)[0][3] == "bounce"
