"""The scene sampler: valid, seeded, in-frame scenes whose placement matches each motion."""

from __future__ import annotations

import numpy as np
import pytest

from kinema.world.palette import FLOOR_FRACTION
from kinema.world.physics import half_extents, motion_at, size_px, throw_launch, trajectories
from kinema.world.render import render
from kinema.world.sample import DISTRIBUTIONS, SceneDistribution, place, sample_scene
from kinema.world.scene import GRAVITY, SLIDE_SPEED_RANGE, Interaction, ObjectSpec, Scene


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_every_preset_gives_valid_placed_distinguishable_scenes(name: str) -> None:
    for seed in range(200):
        scene = sample_scene(seed, name)
        assert scene.placed
        assert Scene.from_dict(scene.to_dict()) == scene  # valid: it rebuilds through validation
        looks = [(o.color, o.shape) for o in scene.objects]
        assert len(set(looks)) == len(looks)
        if seed % 10 == 0:
            clip = render(scene)
            assert clip.frames.shape == (scene.frames, scene.height, scene.width, 3)


def test_presets_grow_in_what_they_contain() -> None:
    simple = [sample_scene(s, "simple") for s in range(100)]
    assert all(len(s.objects) == 1 and s.objects[0].motion in ("still", "slide") for s in simple)
    assert all(s.camera.motion == "still" and len(s.shots) == 1 for s in simple)
    full = [sample_scene(s, "full") for s in range(300)]
    assert any(s.interactions for s in full) and any(len(s.shots) > 1 for s in full)
    assert any(s.camera.motion != "still" for s in full) and any(o.trail for s in full for o in s.objects)
    assert {o.motion for s in full for o in s.objects} == set(DISTRIBUTIONS["full"].motions)


def test_seeded_determinism() -> None:
    assert sample_scene(7, "full") == sample_scene(np.random.default_rng(7), "full")
    assert sample_scene(7, "full") != sample_scene(8, "full")
    scene = Scene(objects=(ObjectSpec(motion="slide", direction="left"),))
    assert place(scene, 3) == place(scene, 3)


def test_overrides_and_bad_distributions() -> None:
    scene = sample_scene(1, "medium", width=112, height=64, frames=9)
    assert (scene.width, scene.height, scene.frames) == (112, 64, 9)
    with pytest.raises(ValueError, match="unknown"):
        sample_scene(1, "nope")
    with pytest.raises(ValueError, match="motion"):
        SceneDistribution(motions=("hover",))
    with pytest.raises(ValueError, match="probability"):
        SceneDistribution(p_trail=1.5)


def in_frame_fraction(motion: str, seeds: range) -> list[float]:
    dist = SceneDistribution(sizes=((64, 64), (112, 64), (64, 96)), frames=(17, 33, 65), motions=(motion,))
    out = []
    for seed in seeds:
        clip = render(sample_scene(seed, dist))
        out.append(float((clip.truth.visibility[:, 0] > 0).mean()))
    return out


def test_slides_and_bounces_stay_in_frame() -> None:
    assert min(in_frame_fraction("slide", range(40))) == 1.0
    assert min(in_frame_fraction("bounce", range(40))) == 1.0


def test_enter_exit_and_return_do_what_they_say() -> None:
    for motion in ("enter", "exit", "return"):
        dist = SceneDistribution(sizes=((64, 64), (112, 64), (64, 96)), frames=(17, 33, 65), motions=(motion,))
        for seed in range(30):
            vis = render(sample_scene(seed, dist)).truth.visibility[:, 0]
            if motion == "enter":
                assert vis[0] == 0.0 and vis[-1] > 0.99, (motion, seed)
            elif motion == "exit":
                assert vis[0] > 0.99 and vis[-1] == 0.0, (motion, seed)
            else:
                assert vis[0] > 0.99 and vis.min() == 0.0 and vis[-1] > 0.99, (motion, seed)


def test_place_keeps_given_fields_and_rests_still_objects_on_the_floor() -> None:
    objects = (
        ObjectSpec(color="red", shape="square", size="large"),
        ObjectSpec(color="blue", shape="triangle", size="large"),
        ObjectSpec(color="green", x=0.5),
    )
    for seed in range(20):
        scene = place(Scene(objects=objects, floor=True), seed)
        top = 64 * (1 - FLOOR_FRACTION)
        spans = []
        for obj in scene.objects:
            half, _, bottom = half_extents(obj.shape, size_px(obj, scene))
            assert obj.y * 64 + bottom == pytest.approx(top)
            spans.append((obj.x * 64 - half, obj.x * 64 + half))
        assert scene.objects[2].x == 0.5 and scene.objects[2].speed == 0.0
        spans.sort()
        assert all(a[1] <= b[0] + 1e-6 for a, b in zip(spans, spans[1:])), seed  # no overlaps


def test_throws_arc_inside_the_frame_and_land_across() -> None:
    for seed in range(30):
        obj = ObjectSpec(color="red", motion="throw", direction="right" if seed % 2 else "left")
        scene = place(Scene(objects=(obj,), floor=bool(seed % 3), frames=33), seed)
        vx, vy = throw_launch(scene, scene.objects[0])
        flight = -2 * vy / (GRAVITY * 64)  # back at its launch height
        c = motion_at(scene, np.linspace(0, flight, 100)).center[:, 0]
        _, top, _ = half_extents("circle", size_px(obj, scene))
        assert c[:, 1].min() > top  # the apex stays below the top edge
        assert c[-1, 1] == pytest.approx(c[0, 1])
        moved = c[-1, 0] - c[0, 0]
        assert (moved > 0.4 * 64) if obj.direction == "right" else (moved < -0.4 * 64), seed
        assert flight < scene.duration  # it lands within the clip


def test_interactions_are_placed_so_they_happen() -> None:
    for seed in range(20):
        a = ObjectSpec(color="red")
        b = ObjectSpec(color="blue", shape="square")
        collide = place(Scene(objects=(a, b), interactions=(Interaction("collide", 0, 1),)), seed)
        assert collide.objects[0].motion == collide.objects[1].motion == "slide"
        x = trajectories(collide).center[:, :, 0]
        va, vb = np.diff(x[:, 0]), np.diff(x[:, 1])
        assert np.sign(va[0]) != np.sign(va[-1]) and np.sign(vb[0]) != np.sign(vb[-1]), seed  # they rebound
        push = place(Scene(objects=(a, b), interactions=(Interaction("push", 0, 1),)), seed)
        x = trajectories(push).center[:, :, 0]
        assert x[0, 1] == x[1, 1] and abs(x[-1, 1] - x[0, 1]) > 2, seed  # still, then struck
        cross = place(Scene(objects=(a, b), interactions=(Interaction("pass_behind", 0, 1),)), seed)
        x = trajectories(cross).center[:, :, 0]
        assert np.sign(x[0, 0] - x[0, 1]) != np.sign(x[-1, 0] - x[-1, 1]), seed  # it crossed over


def test_push_of_a_mover_is_an_error() -> None:
    a = ObjectSpec(color="red", motion="slide", direction="right")
    b = ObjectSpec(color="blue", motion="bounce")
    with pytest.raises(ValueError, match="push"):
        place(Scene(objects=(a, b), interactions=(Interaction("push", 0, 1),)), 0)


def test_a_slides_start_place_does_not_give_away_its_direction() -> None:
    """Start first, speed second: short slides start on the far side or in the middle, not always
    on the far side (which let captions' "on the left" stand for "to the right")."""
    from kinema.world.regions import start_region

    dist = SceneDistribution(frames=(17,), motions=("slide",))
    starts = {"far": 0, "center": 0, "near": 0}
    speeds = []
    for seed in range(120):
        scene = sample_scene(seed, dist)
        obj = scene.objects[0]
        if obj.direction not in ("left", "right"):
            continue
        region = start_region(scene, obj)[0]  # type: ignore[index]
        far = "right" if obj.direction == "left" else "left"
        starts["far" if region == far else "center" if region == "center" else "near"] += 1
        speeds.append(obj.speed)
        centers = trajectories(scene).center[:, 0, 0]
        assert (centers[-1] - centers[0]) * (1 if obj.direction == "right" else -1) > 0
    total = sum(starts.values())
    assert total > 40 and starts["near"] == 0
    assert 0.3 < starts["center"] / total < 0.8 and 0.2 < starts["far"] / total < 0.7
    slow, fast = SLIDE_SPEED_RANGE
    assert min(speeds) >= slow - 1e-9 and max(speeds) <= fast + 1e-9
