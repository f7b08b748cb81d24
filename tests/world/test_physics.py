"""The world's physics checked against its formulas (shared/WORLD.md), not just shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kinema.world.palette import FLOOR_FRACTION, SIZES
from kinema.world.physics import (
    REST_HEIGHT,
    ZOOM_CHANGE,
    bounce_segments,
    camera_view,
    half_extents,
    motion_at,
    trajectories,
)
from kinema.world.scene import (
    FALL_RESTITUTION,
    GRAVITY,
    PUSH_RESTITUTION,
    RESTITUTION,
    Camera,
    Interaction,
    ObjectSpec,
    Scene,
    Shot,
)

W = H = 64
G = GRAVITY * H  # px/s^2


def scene_of(*objects: ObjectSpec, **kw: object) -> Scene:
    return Scene(width=kw.pop("width", W), height=kw.pop("height", H), objects=objects, **kw)  # type: ignore[arg-type]


def test_slide_has_constant_velocity_in_widths_per_second() -> None:
    s = scene_of(ObjectSpec(motion="slide", direction="down-right", x=0.1, y=0.1, speed=0.3))
    c = trajectories(s).center[:, 0]
    step = np.diff(c, axis=0)
    expected = 0.3 * W / s.fps * np.array([1, 1]) / math.sqrt(2)
    np.testing.assert_allclose(step, np.broadcast_to(expected, step.shape), atol=1e-9)
    np.testing.assert_allclose(c[0], [0.1 * W, 0.1 * H])


def test_bounce_apex_heights_decay_by_restitution_squared() -> None:
    s = scene_of(ObjectSpec(motion="bounce", x=0.5, y=0.1, speed=0.0), fps=8.0, frames=65)
    size = SIZES["medium"] * 64
    rest = H * (1 - FLOOR_FRACTION) - size / 2
    times = np.linspace(0, 12, 240_001)
    y = motion_at(s, times).center[:, 0, 1]
    assert y.max() <= rest + 1e-9  # never below the floor
    # Apexes are local minima of y (y grows down); heights are measured above the resting height.
    inner = (y[1:-1] < y[:-2]) & (y[1:-1] <= y[2:]) & (y[1:-1] < rest - 1e-6)
    heights = rest - y[1:-1][inner]
    assert len(heights) >= 6
    np.testing.assert_allclose(heights[1:] / heights[:-1], RESTITUTION**2, rtol=2e-3)
    np.testing.assert_allclose(heights[0], RESTITUTION**2 * (rest - 0.1 * H), rtol=2e-3)
    assert y[-1] == pytest.approx(rest)  # came to rest


def test_bounce_segments_are_exact_and_stop_below_rest_height() -> None:
    seg = bounce_segments(0.0, 0.0, G, 40.0, RESTITUTION)
    starts, ys, vys = seg[:, 0], seg[:, 1], seg[:, 2]
    assert starts[1] == pytest.approx(math.sqrt(2 * 40.0 / G))  # first contact from the quadratic
    flights = -vys[1:-1]  # upward speeds after each contact
    np.testing.assert_allclose(flights[1:] / flights[:-1], RESTITUTION)
    assert flights[-1] ** 2 / (2 * G) >= REST_HEIGHT > (RESTITUTION * flights[-1]) ** 2 / (2 * G)
    assert np.all(ys[1:] == 40.0)


def test_fall_accelerates_at_g_then_comes_to_rest() -> None:
    s = scene_of(ObjectSpec(motion="fall", x=0.5, y=0.1, speed=0.0), frames=65)
    y = trajectories(s).center[:, 0, 1]
    dt = 1 / s.fps
    first_contact = math.sqrt(2 * (H * (1 - FLOOR_FRACTION) - SIZES["medium"] * 32 - 0.1 * H) / G)
    airborne = int(first_contact / dt) - 1
    accel = np.diff(y[: airborne + 1], 2) / dt**2
    np.testing.assert_allclose(accel, G, rtol=1e-9)
    assert np.all(np.diff(y[:airborne]) > 0)  # falling down the screen
    rest = H * (1 - FLOOR_FRACTION) - SIZES["medium"] * 32
    assert np.allclose(y[-16:], rest)  # FALL_RESTITUTION is low: it settles within the clip
    assert FALL_RESTITUTION < RESTITUTION


def test_triangle_rests_on_its_base_not_half_its_side() -> None:
    s = scene_of(ObjectSpec(shape="triangle", size="large", motion="fall", x=0.5, y=0.1, speed=0.0), frames=65)
    y = trajectories(s).center[-1, 0, 1]
    _, _, bottom = half_extents("triangle", SIZES["large"] * 64)
    assert y + bottom == pytest.approx(H * (1 - FLOOR_FRACTION))


def test_throw_is_a_parabola_landing_on_the_other_side() -> None:
    x0, y0 = 0.2, 0.75
    s = scene_of(ObjectSpec(motion="throw", direction="right", x=x0, y=y0, speed=0.6), frames=65)
    vx = 0.6 * W
    flight = (W - 2 * x0 * W) / vx  # lands at the mirrored x, at its launch height
    times = np.linspace(0, flight, 200)
    c = motion_at(s, times).center[:, 0]
    np.testing.assert_allclose(c[:, 0], x0 * W + vx * times)
    np.testing.assert_allclose(c[-1], [W - x0 * W, y0 * H], atol=1e-6)
    # y is exactly quadratic in t with curvature g: second differences are constant.
    dt = times[1] - times[0]
    np.testing.assert_allclose(np.diff(c[:, 1], 2) / dt**2, G, rtol=1e-6)
    assert c[:, 1].min() > half_extents("circle", SIZES["medium"] * 64)[1]  # apex stays in frame


def test_bounce_drift_reflects_off_the_side_walls() -> None:
    s = scene_of(ObjectSpec(motion="bounce", direction="right", x=0.7, y=0.3, speed=0.6), frames=65)
    x = trajectories(s).center[:, 0, 0]
    half = SIZES["medium"] * 64 / 2
    assert x.min() >= half - 1e-9 and x.max() <= W - half + 1e-9
    assert x.max() == pytest.approx(W - half, abs=0.6 * W / s.fps)  # reached the wall...
    turn = int(np.argmax(x))
    assert np.all(np.diff(x[: turn + 1]) > 0) and x[turn + 1] < x[turn]  # ...and came back


def test_return_leaves_the_frame_and_comes_back() -> None:
    s = scene_of(ObjectSpec(motion="return", direction="right", x=0.7, y=0.5, speed=0.3), frames=65)
    x = trajectories(s).center[:, 0, 0]
    half = SIZES["medium"] * 64 / 2
    assert x.max() > W + half  # fully outside
    assert x[-1] < W - half  # fully back inside
    turn = int(np.argmax(x))
    assert np.allclose(np.diff(x[:turn]), 0.3 * W / s.fps) and np.allclose(np.diff(x[turn + 1 :]), -0.3 * W / s.fps)


def test_collide_exchanges_velocities_at_contact() -> None:
    a = ObjectSpec(color="red", motion="slide", direction="right", x=0.1, y=0.5, speed=0.4)
    b = ObjectSpec(color="blue", motion="slide", direction="left", x=0.9, y=0.5, speed=0.2)
    s = scene_of(a, b, interactions=(Interaction("collide", 0, 1),), frames=65)
    c = trajectories(s).center
    va, vb = np.diff(c[:, 0, 0]) * s.fps, np.diff(c[:, 1, 0]) * s.fps
    assert va[0] == pytest.approx(0.4 * W) and vb[0] == pytest.approx(-0.2 * W)
    assert va[-1] == pytest.approx(-0.2 * W) and vb[-1] == pytest.approx(0.4 * W)  # exchanged
    gap = c[:, 1, 0] - c[:, 0, 0]
    assert gap.min() >= SIZES["medium"] * 64 - 1e-6  # never overlap: rebound at contact


def test_push_moves_the_struck_object_only_after_contact_and_slows_the_striker() -> None:
    a = ObjectSpec(color="red", shape="square", motion="slide", direction="right", x=0.1, y=0.5, speed=0.3)
    b = ObjectSpec(color="blue", motion="still", x=0.6, y=0.5, speed=0.0)
    s = scene_of(a, b, interactions=(Interaction("push", 0, 1),), frames=33)
    reach = SIZES["medium"] * 64  # sum of half sizes
    contact = (0.6 * W - reach - 0.1 * W) / (0.3 * W)
    times = np.linspace(0, 4, 801)
    c = motion_at(s, times).center
    before, after = times < contact - 1e-9, times > contact + 1e-9
    assert np.all(c[before, 1] == c[0, 1])  # not a hair of motion before the strike
    v = 0.3 * W
    e = PUSH_RESTITUTION
    dt = times[1] - times[0]
    va, vb = np.diff(c[after, 0, 0]) / dt, np.diff(c[after, 1, 0]) / dt
    np.testing.assert_allclose(va, v * (1 - e) / 2)
    np.testing.assert_allclose(vb, v * (1 + e) / 2)
    k = int(np.searchsorted(times, contact))
    assert c[k, 1, 0] - c[k, 0, 0] == pytest.approx(reach, abs=v * dt + 1e-6)


def test_push_of_a_moving_object_is_an_error() -> None:
    a = ObjectSpec(color="red", motion="slide", direction="right", x=0.1, y=0.5, speed=0.3)
    b = ObjectSpec(color="blue", motion="slide", direction="left", x=0.6, y=0.5, speed=0.3)
    with pytest.raises(ValueError, match="push"):
        trajectories(scene_of(a, b, interactions=(Interaction("push", 0, 1),)))


def test_spin_grow_shrink() -> None:
    s = scene_of(
        ObjectSpec(color="red", shape="square", motion="spin", direction="clockwise", x=0.2, y=0.5, speed=0.5),
        ObjectSpec(color="blue", motion="grow", x=0.5, y=0.5, speed=0.0),
        ObjectSpec(color="green", motion="shrink", x=0.8, y=0.5, speed=0.0),
    )
    t = trajectories(s)
    np.testing.assert_allclose(t.rotation[:, 0], 2 * math.pi * 0.5 * t.times)
    assert t.scale[0, 1] == 1.0 and t.scale[-1, 1] == pytest.approx(2.0) and t.scale[-1, 2] == pytest.approx(0.5)
    assert np.all(t.center == t.center[0])  # all stay in place
    assert t.trail(0, 5).shape == (6, 2)


def test_unplaced_scene_is_an_error() -> None:
    with pytest.raises(ValueError, match="place"):
        trajectories(scene_of(ObjectSpec(motion="slide", direction="left")))


def test_camera_pan_zoom_and_shots_without_time_reset() -> None:
    obj = ObjectSpec(motion="slide", direction="right", x=0.1, y=0.5, speed=0.2)
    pan = camera_view(scene_of(obj, camera=Camera("pan_right", speed=0.25)))
    assert pan.center[8, 0] - pan.center[0, 0] == pytest.approx(0.25 * W)  # one second
    assert np.all(pan.offset[1:, 0] < pan.offset[:-1, 0])  # the world scrolls left
    zoom = camera_view(scene_of(obj, camera=Camera("zoom_in")))
    assert zoom.zoom[0] == 1.0 and zoom.zoom[-1] == pytest.approx(ZOOM_CHANGE)
    out = camera_view(scene_of(obj, camera=Camera("zoom_out")))
    assert out.zoom[-1] == pytest.approx(1 / ZOOM_CHANGE)
    shots = (Shot(), Shot(start=10, zoom=1.6, cx=0.3, cy=0.4), Shot(start=20, zoom=0.7))
    s = scene_of(obj, shots=shots)
    view = camera_view(s)
    assert view.shot.tolist() == [0] * 10 + [1] * 10 + [2] * 13
    np.testing.assert_allclose(view.center[15], [0.3 * W, 0.4 * H])
    screen = view.to_screen(trajectories(s).center)
    world = trajectories(s).center
    np.testing.assert_allclose(np.diff(world[:, 0, 0]), 0.2 * W / s.fps)  # no time reset at cuts
    np.testing.assert_allclose(screen[15, 0], (world[15, 0] - [0.3 * W, 0.4 * H]) * 1.6 + [W / 2, H / 2])
