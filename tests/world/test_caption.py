"""Captions state their scene's facts, and every caption (canonical or paraphrased) parses back to them."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from kinema.world.caption import close_up_subjects, detailed_caption, main_object, scene_facts, short_caption
from kinema.world.regions import resting_y, start_region
from kinema.world.palette import BACKGROUNDS, COLOR_SYNONYMS, COLORS, DIRECTIONS, SHAPE_SYNONYMS, SHAPES, SIZES, SPIN_DIRECTIONS
from kinema.world.parse import parse_prompt
from kinema.world.scene import CAMERA_MOTIONS, INTERACTIONS, MOTIONS, Camera, Interaction, ObjectSpec, Scene, Shot

CANVASES = ((64, 64), (96, 64), (64, 96), (112, 64), (32, 32), (256, 128))
PARAPHRASES = 20


def _direction(rng: np.random.Generator, motion: str) -> str | None:
    if motion in ("slide", "enter", "exit", "return"):
        return str(rng.choice(list(DIRECTIONS)))
    if motion == "bounce":
        return [None, "left", "right"][int(rng.integers(3))]
    if motion == "throw":
        return str(rng.choice(["left", "right"]))
    if motion == "spin":
        return str(rng.choice(SPIN_DIRECTIONS))
    return None


def _object(rng: np.random.Generator, scene_floor: bool, width: int, height: int, motion: str | None = None) -> ObjectSpec:
    shape = str(rng.choice(SHAPES))
    motion = motion or str(rng.choice([m for m in MOTIONS if not (m == "spin" and shape == "circle")]))
    if motion == "spin" and shape == "circle":
        shape = "square"
    direction = _direction(rng, motion)
    size = str(rng.choice(list(SIZES)))
    x: float | None = float(rng.uniform(0.03, 0.97))
    y: float | None = float(rng.uniform(0.03, 0.97))
    if motion == "enter":
        dx, dy = DIRECTIONS[direction]  # type: ignore[index]
        x = -0.2 if dx > 0 else 1.2 if dx < 0 else x
        y = -0.2 if dy > 0 else 1.2 if dy < 0 else y
    elif scene_floor and rng.random() < 0.35:  # resting on the floor, give or take half a pixel
        y = resting_y(shape, size, motion, width, height) + float(rng.uniform(-0.5, 0.5)) / height
    if rng.random() < 0.1:
        x = y = None  # not placed: no region to state
    return ObjectSpec(
        color=str(rng.choice(list(COLORS))), shape=shape, size=size, motion=motion, direction=direction, x=x, y=y,
        speed=float(rng.uniform(0.15, 0.45)) if x is not None else None, trail=bool(motion != "still" and rng.random() < 0.3),
    )


def random_scene(rng: np.random.Generator) -> Scene:
    """Any combination the contract allows, look-alikes and unplaced objects included."""
    width, height = CANVASES[int(rng.integers(len(CANVASES)))]
    floor = bool(rng.random() < 0.6)
    objects = [_object(rng, floor, width, height) for _ in range(int(rng.integers(1, 4)))]
    for i in range(1, len(objects)):
        if rng.random() < 0.12 and not (objects[i].motion == "spin" and objects[i - 1].shape == "circle"):  # a look-alike
            objects[i] = replace(objects[i], color=objects[i - 1].color, shape=objects[i - 1].shape, size=objects[i - 1].size)
        if rng.random() < 0.06:  # an exact twin
            objects[i] = objects[i - 1]
    interactions: tuple[Interaction, ...] = ()
    if len(objects) >= 2 and rng.random() < 0.45:
        kind = str(rng.choice(INTERACTIONS))
        s, o = (int(i) for i in rng.permutation(len(objects))[:2])
        side = str(rng.choice(["left", "right"]))
        if kind.startswith("pass") and rng.random() < 0.3:
            pass  # a pass only orders drawing: its subject may do anything
        else:
            objects[s] = replace(objects[s], motion=str(rng.choice(["slide", "slide", "enter", "exit"])), direction=side)
        if kind == "collide":
            objects[o] = replace(objects[o], motion="slide", direction={"left": "right", "right": "left"}[side])
            if objects[s].motion == "enter":
                objects[s] = replace(objects[s], x=-0.2 if side == "right" else 1.2)
        elif kind == "push" or rng.random() < 0.5:
            objects[o] = replace(objects[o], motion="still", direction=None, trail=False)
        interactions = (Interaction(kind, s, o),)
    frames = int(rng.choice([1, 17, 33, 65]))
    count = int(rng.integers(1, 4)) if frames >= 3 else 1
    shots = tuple(Shot(start=i * frames // count, zoom=float(rng.choice([0.5, 0.7, 1.0, 1.1, 1.5, 2.0]))) for i in range(count))
    if count == 1 and rng.random() < 0.6:
        shots = (Shot(),)
    return Scene(
        width=width, height=height, frames=frames, background=str(rng.choice(list(BACKGROUNDS))), floor=floor,
        objects=tuple(objects), interactions=interactions, camera=Camera(str(rng.choice(CAMERA_MOTIONS))), shots=shots,
    )


SCENES = [random_scene(np.random.default_rng(seed)) for seed in range(300)]


def test_random_scenes_cover_the_world() -> None:
    facts = [scene_facts(s) for s in SCENES]
    objects = [o for f in facts for o in f["objects"]]
    assert {o["motion"] for o in objects} == set(MOTIONS)
    assert {it[0] for f in facts for it in f["interactions"]} == set(INTERACTIONS)
    assert {f["camera"] for f in facts} == set(CAMERA_MOTIONS)
    assert {len(f["shots"]) for f in facts} == {1, 2, 3} and {f["floor"] for f in facts} == {True, False}
    assert {f["background"] for f in facts} == set(BACKGROUNDS)
    assert {o["region"][1] for o in objects if o["region"]} == {"top", "middle", "bottom", "floor"}
    assert {o["speed"] for o in objects} == {None, "slow", "fast"} and any(o["trail"] for o in objects)
    assert {len(f["objects"]) for f in facts} == {1, 2, 3}


def test_contract_example_is_the_canonical_caption() -> None:
    scene = Scene(objects=(
        ObjectSpec("red", "circle", "small", "bounce", "right", x=0.15, y=0.45, speed=0.2),
        ObjectSpec("blue", "square", "large", "still", x=0.5, y=resting_y("square", "large", "still", 64, 64), speed=0.0),
    ))
    assert detailed_caption(scene) == (
        "A small red circle starts on the left and bounces toward the right across a black background with a gray floor. "
        "A large blue square rests in the middle of the floor. The camera is still."
    )
    assert short_caption(scene) == "red ball bouncing right"


@pytest.mark.parametrize("chunk", range(4))
def test_every_caption_parses_back_to_its_scene(chunk: int) -> None:
    for k, scene in enumerate(SCENES[chunk::4]):
        want = scene_facts(scene)
        for p in range(PARAPHRASES + 1):
            caption = detailed_caption(scene, None if p == 0 else np.random.default_rng([chunk, k, p]))
            got = scene_facts(parse_prompt(caption))
            assert got == want, f"{caption}\nwant {want}\ngot  {got}"


def test_captions_parse_back_on_the_scene_canvas() -> None:
    for k, scene in enumerate(SCENES[:60]):
        caption = detailed_caption(scene, np.random.default_rng(k))
        parsed = parse_prompt(caption, width=scene.width, height=scene.height, frames=scene.frames)
        assert scene_facts(parsed) == scene_facts(scene), caption


def test_short_captions_parse_to_the_main_object() -> None:
    for k, scene in enumerate(SCENES):
        main = scene_facts(scene)["objects"][main_object(scene)]
        for p in range(4):
            caption = short_caption(scene, None if p == 0 else np.random.default_rng([k, p]))
            first = scene_facts(parse_prompt(caption))["objects"][0]
            got = {key: first[key] for key in ("color", "shape", "motion", "direction")}
            assert got == {key: main[key] for key in got}, caption


def test_short_captions_read_like_typing() -> None:
    for scene in SCENES[:50]:
        caption = short_caption(scene)
        assert caption == caption.lower() and "." not in caption and len(caption.split()) <= 14, caption


def test_paraphrases_vary_and_use_synonyms() -> None:
    scene = SCENES[0]
    captions = {detailed_caption(scene, np.random.default_rng(seed)) for seed in range(50)}
    assert len(captions) >= 45
    text = " ".join(detailed_caption(s, np.random.default_rng(i)) for i, s in enumerate(SCENES[:100])).lower()
    synonyms = [w for syn in (*COLOR_SYNONYMS.values(), *SHAPE_SYNONYMS.values()) for w in syn]
    assert sum(re.search(rf"\b{w}\b", text) is not None for w in synonyms) >= len(synonyms) * 0.8
    for phrase in ("two ", "another", "the camera", "then", "shots"):
        assert phrase in text, phrase
    assert len({short_caption(s, np.random.default_rng(1)) for s in SCENES[:100]}) >= 90


LOCATION_WORDS = ("left", "right", "top", "bottom", "up", "down", "upper", "lower")


def _allowed_locations(scene: Scene) -> set[str]:
    """Location words a caption of a one-object scene may use: from its region, direction and camera."""
    (obj,) = scene.objects
    allowed: set[str] = set()
    region = start_region(scene, obj)
    if region:
        allowed |= {region[0], region[1], {"top": "upper", "bottom": "lower"}.get(region[1], "")}
    for part in (obj.direction or "").split("-"):
        allowed |= {part, {"up": "top", "down": "bottom"}.get(part, ""), {"up": "upper", "down": "lower"}.get(part, "")}
        if obj.motion == "enter":  # "enters from the left edge" when moving right
            opposite = {"left": "right", "right": "left", "up": "down", "down": "up"}.get(part, "")
            allowed |= {opposite, {"up": "top", "down": "bottom"}.get(opposite, ""), {"up": "upper", "down": "lower"}.get(opposite, "")}
    allowed |= set(scene.camera.motion.split("_")[1:])
    if obj.motion == "bounce" and obj.direction is None:
        allowed |= {"up", "down"}  # "bounces up and down"
    if obj.motion == "fall":
        allowed |= {"down"}  # "falls down"
    if scene.floor:
        allowed |= {"bottom"}  # "a gray floor along the bottom"
    return allowed


def test_captions_never_contradict_the_scene() -> None:
    for k, scene in enumerate(SCENES):
        if len(scene.objects) != 1:
            continue
        allowed = _allowed_locations(scene)
        for p in range(6):
            caption = detailed_caption(scene, None if p == 0 else np.random.default_rng([k, p]))
            said = set(re.findall(r"[a-z]+", caption.lower().replace("close-up", ""))) & set(LOCATION_WORDS)
            assert said <= allowed, f"{caption}: {sorted(said - allowed)}"
            if not scene.floor:
                assert "gray floor" not in caption and "on the floor" not in caption
            if scene.camera.motion == "still":
                assert "pan" not in caption and "zoom" not in caption


def test_facts_follow_regions_and_speeds() -> None:
    scene = Scene(floor=True, objects=(
        ObjectSpec("red", "triangle", "large", "spin", "clockwise", x=0.9, y=resting_y("triangle", "large", "spin", 64, 64), speed=0.5),
        ObjectSpec("blue", "circle", "small", "slide", "up-left", x=0.5, y=0.1, speed=0.16),
        ObjectSpec("green", "circle", "small", "bounce", None, x=0.1, y=resting_y("circle", "small", "bounce", 64, 64), speed=0.0),
    ))
    objects = scene_facts(scene)["objects"]
    assert [o["region"] for o in objects] == [("right", "floor"), ("center", "top"), ("left", "bottom")]
    assert [o["speed"] for o in objects] == [None, "slow", None]
    caption = detailed_caption(scene)
    assert "spins clockwise" in caption and "slowly" in caption and "up and to the left" in caption


def test_sampled_scenes_parse_back() -> None:
    sample = pytest.importorskip("kinema.world.sample")
    for seed in range(300):
        scene = sample.sample_scene(seed, "full")
        for p in range(3):
            caption = detailed_caption(scene, None if p == 0 else np.random.default_rng([seed, p]))
            assert scene_facts(parse_prompt(caption)) == scene_facts(scene), caption
        main = scene_facts(scene)["objects"][main_object(scene)]
        first = scene_facts(parse_prompt(short_caption(scene, np.random.default_rng(seed))))["objects"][0]
        assert all(first[key] == main[key] for key in ("color", "shape", "motion", "direction"))


def test_placed_stationary_objects_rest_on_the_floor() -> None:
    sample = pytest.importorskip("kinema.world.sample")
    for seed in range(60):
        rng = np.random.default_rng(seed)
        motion = str(rng.choice(["still", "spin", "grow", "shrink"]))
        shape = "square" if motion == "spin" else str(rng.choice(SHAPES))
        obj = ObjectSpec(str(rng.choice(list(COLORS))), shape, str(rng.choice(list(SIZES))), motion, _direction(rng, motion))
        width, height = CANVASES[seed % len(CANVASES)]
        placed = sample.place(Scene(width=width, height=height, floor=True, objects=(obj,)), rng)
        assert start_region(placed, placed.objects[0])[1] == "floor"  # type: ignore[index]


def test_close_ups_name_what_they_show() -> None:
    pytest.importorskip("kinema.world.sample")
    from kinema.world.sample import sample_scene

    named = 0
    for seed in range(120):
        scene = sample_scene(seed, "full")
        for k, i in close_up_subjects(scene).items():
            caption = detailed_caption(scene)
            assert re.search(r"close-up (on|of) the [a-z ]+", caption), caption
            assert scene.shots[k].framing == "close-up" and 0 <= i < len(scene.objects)
            assert scene_facts(parse_prompt(caption)) == scene_facts(scene)
            named += 1
    assert named >= 3


def test_identical_objects_are_counted() -> None:
    twin = ObjectSpec("red", "circle", "small", "slide", "right", x=0.1, y=0.3, speed=0.3)
    scene = Scene(objects=(twin, twin, ObjectSpec("blue", "square", "large", "spin", "clockwise")))
    assert detailed_caption(scene).startswith("Two small red circles start on the left and slide to the right")
    assert scene_facts(parse_prompt(detailed_caption(scene))) == scene_facts(scene)
