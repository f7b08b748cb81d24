"""The renderer checked from its pixels: exact colors, areas, orientation, texture, ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kinema.world.palette import BACKGROUNDS, COLORS, FLOOR_COLOR, SHAPES, SIZES
from kinema.world.render import TEXTURE_AMPLITUDE, render
from kinema.world.scene import Camera, Interaction, ObjectSpec, Scene


def still(color: str = "red", shape: str = "circle", size: str = "medium", x: float = 0.5, y: float = 0.5, **kw: object) -> ObjectSpec:
    return ObjectSpec(color=color, shape=shape, size=size, motion=kw.pop("motion", "still"), x=x, y=y, speed=kw.pop("speed", 0.0), **kw)  # type: ignore[arg-type]


def scene_of(*objects: ObjectSpec, **kw: object) -> Scene:
    kw.setdefault("floor", False)
    return Scene(objects=objects, **kw)  # type: ignore[arg-type]


def painted(scene: Scene, hidden: Scene) -> np.ndarray:
    """Per-pixel coverage of the scene's objects: its frames against the same scene with them away."""
    a = render(scene).frames.astype(np.float64)
    b = render(hidden).frames.astype(np.float64)
    color = np.array(COLORS[scene.objects[0].color], np.float64)
    return ((a - b) / (color - b))[..., 0]


def test_exact_palette_color_at_the_center_of_every_shape_and_color() -> None:
    for i, color in enumerate(COLORS):
        shape = SHAPES[i % 3]
        clip = render(scene_of(still(color, shape, "small", x=0.5, y=0.5), width=48, height=48, frames=1))
        # The pixel whose center is nearest the shape's center (24, 24) is (row 23/24, col 23/24).
        assert tuple(clip.frames[0, 24, 24]) == COLORS[color], (color, shape)
        assert tuple(clip.frames[0, 23, 23]) == COLORS[color], (color, shape)


def test_frames_are_uint8_with_one_to_65_frames() -> None:
    for frames in (1, 65):
        clip = render(scene_of(still(motion="slide", direction="right", x=0.2, speed=0.1), frames=frames))
        assert clip.frames.shape == (frames, 64, 64, 3) and clip.frames.dtype == np.uint8
        assert clip.truth.center.shape == (frames, 1, 2) and clip.truth.shot.shape == (frames,)


def test_unplaced_scene_is_an_error() -> None:
    with pytest.raises(ValueError, match="kinema.world.sample.place"):
        render(scene_of(ObjectSpec(motion="slide", direction="left")))


def test_area_of_large_over_small_is_the_size_ratio_squared() -> None:
    areas = {}
    for size in ("small", "large"):
        for shape in SHAPES:
            obj = still("white", shape, size, x=0.5, y=0.5)
            cover = painted(scene_of(obj, width=128, height=128, frames=1), scene_of(still("white", shape, size, x=-0.5), width=128, height=128, frames=1))
            areas[size, shape] = cover.sum()
    for shape in SHAPES:
        assert areas["large", shape] / areas["small", shape] == pytest.approx((0.28 / 0.12) ** 2, rel=0.03)
    side = SIZES["large"] * 128
    assert areas["large", "circle"] == pytest.approx(np.pi * side**2 / 4, rel=0.01)
    assert areas["large", "square"] == pytest.approx(side**2, rel=0.01)
    assert areas["large", "triangle"] == pytest.approx(np.sqrt(3) / 4 * side**2, rel=0.02)


def test_left_is_left_and_up_is_up() -> None:
    clip = render(scene_of(still("green", x=0.25, y=0.25), frames=1))
    ys, xs = np.nonzero(np.all(clip.frames[0] == COLORS["green"], axis=-1))
    assert xs.max() < 32 and ys.max() < 32
    assert clip.truth.center[0, 0].tolist() == pytest.approx([16.0, 16.0])


def test_clockwise_spin_moves_the_triangle_tip_right_first() -> None:
    for direction, sign in (("clockwise", 1), ("counterclockwise", -1)):
        obj = still("yellow", "triangle", "large", motion="spin", direction=direction, speed=0.5)
        clip = render(scene_of(obj, width=128, height=128, frames=2))
        tips = []
        for frame in clip.frames:
            ys, xs = np.nonzero(np.all(frame == COLORS["yellow"], axis=-1))
            top = ys < ys.min() + 3  # the tip: the highest pixels of the shape
            tips.append(xs[top].mean())
        assert sign * (tips[1] - tips[0]) > 3, direction
        assert clip.truth.rotation[1, 0] == pytest.approx(sign * np.pi / 8)


def test_floor_band_color_and_height() -> None:
    for height in (64, 96):
        clip = render(scene_of(still(x=0.5, y=0.3), floor=True, height=height, frames=1))
        rows = np.all(clip.frames[0] == FLOOR_COLOR, axis=(1, 2))
        assert rows.sum() == height // 8 and rows[-(height // 8) :].all()


def test_triangle_rests_with_its_base_on_the_floor() -> None:
    from kinema.world.sample import place

    s = place(scene_of(ObjectSpec(color="cyan", shape="triangle", size="large"), floor=True, frames=1), 0)
    frame = render(s).frames[0]
    rows = np.nonzero(np.any(np.all(frame == COLORS["cyan"], axis=-1), axis=1))[0]
    assert rows.max() == 64 - 8 - 1  # its last full row touches the floor's top


def test_background_texture_is_faint_and_scrolls_left_when_panning_right() -> None:
    for name, color in BACKGROUNDS.items():
        obj = still(x=-0.5)  # out of view: only background
        frames = render(scene_of(obj, background=name, texture_seed=3, camera=Camera("pan_right", speed=0.25), frames=9)).frames
        delta = frames.astype(int) - np.array(color)
        assert delta.min() >= 0 and delta.max() <= TEXTURE_AMPLITUDE and delta.max() >= 4, name
        # After one second the view moved 16 px right: the texture sits 16 px further left.
        np.testing.assert_array_equal(frames[8][:, :-16], frames[0][:, 16:])


def test_texture_is_fixed_by_the_seed() -> None:
    a = render(scene_of(still(x=-0.5), texture_seed=1, frames=1)).frames
    b = render(scene_of(still(x=-0.5), texture_seed=1, frames=1)).frames
    c = render(scene_of(still(x=-0.5), texture_seed=2, frames=1)).frames
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("size", [(32, 32), (256, 256), (112, 64), (64, 96), (96, 64), (48, 160)])
def test_every_canvas_size(size: tuple[int, int]) -> None:
    w, h = size
    objects = (still("red", "square", x=0.3, y=0.5), still("blue", "triangle", x=0.7, y=0.5))
    clip = render(scene_of(*objects, width=w, height=h, frames=3))
    assert clip.frames.shape == (3, h, w, 3)
    for obj in objects:
        col, row = int(obj.x * w), int(obj.y * h)
        assert tuple(clip.frames[0, row, col]) == COLORS[obj.color]
    assert clip.truth.size[0, 0] == pytest.approx(SIZES["medium"] * min(w, h))


def test_visibility_of_an_occluded_and_an_exiting_object() -> None:
    front = still("blue", "square", "large", x=0.5, y=0.5, depth=1)
    behind = still("red", "circle", "small", x=0.55, y=0.5)
    clip = render(scene_of(behind, front, frames=1))
    assert clip.truth.visibility[0, 0] < 0.5 and clip.truth.visibility[0, 1] == pytest.approx(1.0, abs=0.01)
    exiting = ObjectSpec(color="green", motion="exit", direction="right", x=0.6, y=0.5, speed=0.4)
    vis = render(scene_of(exiting, frames=33)).truth.visibility[:, 0]
    assert vis[0] == pytest.approx(1.0, abs=0.01) and vis[-1] == 0.0
    assert np.all(np.diff(vis) <= 1e-6)


def test_pass_behind_and_in_front_set_the_draw_order() -> None:
    mover = ObjectSpec(color="red", shape="square", motion="slide", direction="right", x=0.2, y=0.5, speed=0.15)
    post = still("blue", "square", "large", x=0.5, y=0.5)
    for kind, red_wins in (("pass_behind", False), ("pass_in_front", True)):
        clip = render(scene_of(mover, post, interactions=(Interaction(kind, 0, 1),), frames=33))
        middle = tuple(clip.frames[16, 32, 32])  # the mover is over the post's center at t = 2 s
        assert middle == (COLORS["red"] if red_wins else COLORS["blue"]), kind
        assert (clip.truth.visibility[16, 0] > 0.9) == red_wins


def test_trail_is_painted_under_objects_and_stays() -> None:
    mover = ObjectSpec(color="pink", motion="slide", direction="right", x=0.2, y=0.3, speed=0.3, trail=True)
    post = still("white", "square", "large", x=0.5, y=0.3)
    frames = render(scene_of(mover, post, frames=17)).frames
    assert tuple(frames[0, 19, 5]) != COLORS["pink"]  # nothing behind it yet
    assert tuple(frames[-1, 19, 14]) == COLORS["pink"]  # the start of the path, painted
    assert tuple(frames[-1, 19, 32]) == COLORS["white"]  # objects draw over trails
    band = np.all(frames[-1] == COLORS["pink"], axis=-1)
    thickness = band[:, 20].sum()
    assert abs(thickness - SIZES["medium"] * 64 / 2) <= 1.5  # half the object's size wide


def test_zoom_and_close_up_scale_objects_on_screen() -> None:
    obj = still("orange", x=0.5, y=0.5)
    clip = render(scene_of(obj, camera=Camera("zoom_in"), frames=33))
    assert clip.truth.size[-1, 0] == pytest.approx(1.5 * clip.truth.size[0, 0])
    assert clip.truth.zoom[-1] == pytest.approx(1.5)
    np.testing.assert_allclose(clip.truth.center[:, 0], 32.0)  # the zoom is about the view center


def test_ground_truth_to_dict_is_json() -> None:
    obj = ObjectSpec(color="red", motion="bounce", direction="left", x=0.5, y=0.2, speed=0.2, trail=True)
    clip = render(scene_of(obj, floor=True, camera=Camera("pan_left"), frames=9))
    data = json.loads(json.dumps(clip.truth.to_dict()))
    assert set(data) == {"center", "size", "rotation", "visibility", "camera_offset", "zoom", "shot"}
    assert len(data["center"]) == 9 and len(data["center"][0][0]) == 2


def test_a_pan_shifts_the_whole_picture_trails_included() -> None:
    # 0.125 widths/s at 8 fps is exactly 1 px a frame, so panned frame i is still frame i moved left by i.
    mover = ObjectSpec(color="cyan", motion="throw", direction="right", x=0.2, y=0.8, speed=0.6, trail=True)
    other = still("yellow", "square", x=0.7, y=0.5)
    kw = dict(floor=True, background="night", frames=17)
    panned = render(scene_of(mover, other, camera=Camera("pan_right", speed=0.125), **kw)).frames.astype(int)
    fixed = render(scene_of(mover, other, **kw)).frames.astype(int)
    for i in range(17):
        diff = np.abs(panned[i][:, : 64 - i] - fixed[i][:, i:])
        assert diff.max() <= 2, i  # equal up to float rounding on anti-aliased edges


def test_trails_drawn_per_view_agree_with_the_resampled_world_field() -> None:
    from kinema.world.physics import camera_view, trajectories
    from kinema.world.render import _trail_coverage, _trail_resampled
    from kinema.world.scene import Shot

    obj = ObjectSpec(color="red", motion="bounce", direction="right", x=0.3, y=0.2, speed=0.3, trail=True)
    s = scene_of(obj, floor=True, frames=33, shots=(Shot(), Shot(start=11, zoom=1.6, cx=0.4, cy=0.6), Shot(start=22, zoom=0.7)))
    traj, view = trajectories(s), camera_view(s)
    dense = []
    for cover, index in (_trail_coverage(traj, 0, 2.88, view, 64, 64), _trail_resampled(traj.center[:, 0], 2.88, view, 64, 64)):
        canvas = np.zeros(33 * 64 * 64, np.float32)
        canvas[index] = cover
        dense.append(canvas)
    assert dense[0].sum() > 1000
    diff = np.abs(dense[0] - dense[1]).reshape(33, -1)
    assert diff.mean() < 0.01
    # Bilinear reads round off the distance ridge between two nearby strokes (a gap of about a
    # world px): visible in close-ups, within a third of a level at zoom <= 1.
    assert diff[view.zoom <= 1].max() < 0.35
