"""Vectorised numpy rasteriser of the world, with per-frame ground truth.

Contract (shared/WORLD.md):
- `render(scene)` -> `Clip` with uint8 frames (T, H, W, 3) and `GroundTruth`; the scene must be
  placed (`kinema.world.sample.place`).
- Shapes are anti-aliased by coverage = clip(0.5 - signed distance, 0, 1) in screen px: circle
  (radius size/2), square (side size), equilateral triangle (side size, pointing up at rotation 0,
  centered and rotated on its centroid). Inside a shape the color is the exact palette RGB.
- Object size on screen = SIZES[size] * min(W, H) * scale * view zoom.
- Layers, back to front: background color plus a faint texture (stars on black/night, stripes on
  charcoal/forest; at most TEXTURE_AMPLITUDE RGB units above the background) fixed in world
  coordinates, so it scrolls with pans and scales with zooms; the floor band (infinite below its top
  edge); trails (half the object's size wide, along the center path so far); objects in order of
  (depth, index), with pass_behind / pass_in_front moving the subject just behind / in front of
  the other.
- Ground truth visibility is the fraction of an object's area that is inside the frame and not
  covered by objects in front of it, from the rendered coverages.

Speed: objects are composited front to back, each only inside a per-frame window around it
(gathered by flat index, all frames at once), so cost scales with object area, not canvas area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from kinema.world.palette import BACKGROUNDS, COLORS, FLOOR_COLOR
from kinema.world.physics import SQRT3, Trajectories, View, camera_view, floor_top, size_px, trajectories
from kinema.world.scene import Scene

TEXTURE_AMPLITUDE = 12.0  # RGB units: visible enough to show a pan, faint enough to stay background
STAR_DENSITY = 1 / 110  # stars per world px^2
STRIPE_PERIOD = 16  # world px; divides the texture tile (2W x 2H) so stripes wrap seamlessly
F32 = np.float32


@dataclass(frozen=True)
class GroundTruth:
    """Per-frame truth of a rendered clip, in screen px (float32 arrays)."""

    center: np.ndarray  # (T, N, 2) object centers (triangle: centroid)
    size: np.ndarray  # (T, N) diameter or side
    rotation: np.ndarray  # (T, N) radians, clockwise
    visibility: np.ndarray  # (T, N) fraction of the area inside the frame and unoccluded
    camera_offset: np.ndarray  # (T, 2) screen position of the world origin
    zoom: np.ndarray  # (T,)
    shot: np.ndarray  # (T,) int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe nested lists (floats rounded to 1/1000)."""
        out: dict[str, Any] = {}
        for name in ("center", "size", "rotation", "visibility", "camera_offset", "zoom"):
            out[name] = np.round(getattr(self, name).astype(np.float64), 3).tolist()
        out["shot"] = [int(s) for s in self.shot]
        return out


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # (T, H, W, 3) uint8
    scene: Scene
    truth: GroundTruth

    @property
    def fps(self) -> float:
        return self.scene.fps


def render(scene: Scene) -> Clip:
    if not scene.placed:
        raise ValueError("scene is not placed (an object has x, y or speed None); call kinema.world.sample.place(scene, rng) first")
    w, h, n_frames = scene.width, scene.height, scene.frames
    traj = trajectories(scene)
    view = camera_view(scene)
    zoom = view.zoom.astype(F32)
    center = view.to_screen(traj.center).astype(F32)  # (T, N, 2)
    base = np.array([size_px(o, scene) for o in scene.objects], dtype=F32)
    size = base[None, :] * traj.scale.astype(F32) * zoom[:, None]  # (T, N)
    rotation = traj.rotation.astype(F32)
    order = draw_order(scene)

    frames = _background_frames(scene, view)  # (T, H, W, 3) uint8, writable
    # Trails and objects are drawn only where they land, gathered and scattered by flat pixel index
    # through one strided view per color channel (1-D fancy indexing is ~10x faster than rows).
    flat = frames.reshape(-1)
    channels = [flat[c::3] for c in range(3)]
    for k in order:
        if scene.objects[k].trail:
            _paint_trail(channels, _trail_coverage(traj, k, float(base[k]) / 4, view, w, h), scene.objects[k].color)
    covers = {k: _coverage(scene.objects[k].shape, center[:, k], size[:, k], rotation[:, k], w, h) for k in order}
    visible = np.zeros((n_frames, len(scene.objects)), F32)
    if len(order) == 1:
        visible[:, order[0]] = covers[order[0]][0].sum(axis=(1, 2))
    else:
        # Front to back: `clear` is how much of each pixel nearer objects have left uncovered.
        clear = np.ones(n_frames * h * w, F32)
        for k in reversed(order):
            cover, index = covers[k]
            before = clear[index]
            weight = cover * before
            visible[:, k] = weight.sum(axis=(1, 2))
            clear[index] = before - weight
    for k in order:  # back to front: the painter's algorithm, each window blended in float32
        cover, index = covers[k]
        for channel, value in zip(channels, COLORS[scene.objects[k].color]):
            old = channel[index].astype(F32)
            channel[index] = old + cover * (F32(value) - old) + F32(0.5)

    area = np.stack([_area(o.shape, size[:, k]) for k, o in enumerate(scene.objects)], axis=1)
    truth = GroundTruth(
        center=center,
        size=size,
        rotation=rotation,
        visibility=np.clip(visible / np.maximum(area, 1e-6), 0.0, 1.0).astype(F32),
        camera_offset=view.offset.astype(F32),
        zoom=zoom,
        shot=view.shot,
    )
    return Clip(frames=frames, scene=scene, truth=truth)


def draw_order(scene: Scene) -> list[int]:
    """Object indices back to front: by (depth, index), then pass interactions reorder subjects."""
    order = sorted(range(len(scene.objects)), key=lambda i: (scene.objects[i].depth, i))
    for it in scene.interactions:
        if it.kind in ("pass_behind", "pass_in_front"):
            order.remove(it.subject)
            at = order.index(it.other)
            order.insert(at if it.kind == "pass_behind" else at + 1, it.subject)
    return order


def _area(shape: str, size: np.ndarray) -> np.ndarray:
    if shape == "circle":
        return math.pi * (size / 2) ** 2
    if shape == "square":
        return size * size
    return SQRT3 / 4 * size * size


def _coverage(
    shape: str, center: np.ndarray, size: np.ndarray, rotation: np.ndarray, w: int, h: int
) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased coverage (T, hb, wb) of one object and the flat pixel indices it lands on.

    The window has one size for all frames (the largest extent plus a pixel each side) and is
    shifted inside the canvas per frame, so indices never repeat and nothing off-canvas is drawn.
    """
    n_frames = len(size)
    if shape == "circle":
        reach = size / 2
    elif shape == "square":
        reach = size / 2 * (np.abs(np.cos(rotation)) + np.abs(np.sin(rotation)))
    else:
        reach = size / SQRT3  # circumradius
    span = int(math.ceil(2 * float(reach.max()) + 2))
    win_h, win_w = min(h, span), min(w, span)
    x0 = np.clip(np.floor(center[:, 0] - span / 2).astype(np.int64), 0, w - win_w)
    y0 = np.clip(np.floor(center[:, 1] - span / 2).astype(np.int64), 0, h - win_h)
    cols = x0[:, None] + np.arange(win_w)  # (T, wb)
    rows = y0[:, None] + np.arange(win_h)  # (T, hb)
    dx = (cols.astype(F32) + F32(0.5) - center[:, :1])[:, None, :]  # (T, 1, wb)
    dy = (rows.astype(F32) + F32(0.5) - center[:, 1:])[:, :, None]  # (T, hb, 1)
    if shape == "circle":
        dist = np.sqrt(dx * dx + dy * dy) - (size / 2)[:, None, None]
    else:
        cos = np.cos(rotation)[:, None, None]
        sin = np.sin(rotation)[:, None, None]
        # Into the object's frame: rotating by +rotation turns clockwise on a y-down screen.
        u = cos * dx + sin * dy
        v = cos * dy - sin * dx
        if shape == "square":
            dist = np.maximum(np.abs(u), np.abs(v)) - (size / 2)[:, None, None]
        else:
            # Max of the three edge half-planes; the base is below the centroid (y down).
            s = F32(SQRT3 / 2)
            dist = np.maximum(np.maximum(v, s * u - v / 2), -s * u - v / 2) - (size / (2 * SQRT3))[:, None, None]
    cover = np.clip(F32(0.5) - dist, 0.0, 1.0)
    index = ((np.arange(n_frames)[:, None] * h + rows)[:, :, None]) * w + cols[:, None, :]
    return cover, index


# --- background: color, texture, floor -----------------------------------------------------------


@lru_cache(maxsize=64)
def _texture_tile(width: int, height: int, background: str, seed: int) -> np.ndarray:
    """A (2H, 2W) texture in [0, 1], repeated over the world: stars or stripes, fixed by the seed."""
    rng = np.random.default_rng([seed, width, height])
    th, tw = 2 * height, 2 * width
    if background in ("black", "night"):
        tile = np.zeros((th, tw), F32)
        count = max(1, round(th * tw * STAR_DENSITY))
        ys, xs = rng.integers(0, th, count), rng.integers(0, tw, count)
        tile[ys, xs] = rng.uniform(0.35, 1.0, count).astype(F32)
    else:
        ys, xs = np.mgrid[0:th, 0:tw].astype(F32) + F32(0.5)
        phase = rng.uniform(0, STRIPE_PERIOD)
        along = xs + ys if rng.random() < 0.5 else xs  # diagonal or vertical stripes
        tile = ((0.5 + 0.5 * np.cos(2 * np.pi * (along - phase) / STRIPE_PERIOD)) ** 6).astype(F32) * F32(0.6)
    tile.setflags(write=False)
    return tile


@lru_cache(maxsize=128)
def _background_at(
    width: int, height: int, background: str, seed: int, floor: float | None, views: tuple[tuple[float, float, float], ...]
) -> np.ndarray:
    """Background images (U, H, W, 3) uint8 for view (center x, center y, zoom) triples."""
    tile = _texture_tile(width, height, background, seed)
    cx, cy, zoom = (np.array(c, dtype=np.float64)[:, None] for c in zip(*views))
    # World position of each pixel center, then the texel it falls in (texture is nearest-sampled).
    xs = (np.arange(width) + 0.5 - width / 2) / zoom + cx  # (U, W)
    ys = (np.arange(height) + 0.5 - height / 2) / zoom + cy  # (U, H)
    ix = np.floor(xs).astype(np.int64) % tile.shape[1]
    iy = np.floor(ys).astype(np.int64) % tile.shape[0]
    tex = tile[iy[:, :, None], ix[:, None, :]]  # (U, H, W)
    image = np.array(BACKGROUNDS[background], F32) + F32(TEXTURE_AMPLITUDE) * tex[..., None]
    if floor is not None:
        top = (floor - cy) * zoom + height / 2  # (U, 1) screen y of the floor's top edge
        below = np.clip(np.arange(height)[None, :] + 1 - top, 0.0, 1.0).astype(F32)  # (U, H)
        image += below[:, :, None, None] * (np.array(FLOOR_COLOR, F32) - image)
    image = (image + F32(0.5)).astype(np.uint8)
    image.setflags(write=False)
    return image


def _background_frames(scene: Scene, view: View) -> np.ndarray:
    """Writable (T, H, W, 3) uint8 background of every frame; frames sharing a view share the work."""
    keys = np.concatenate([view.center, view.zoom[:, None]], axis=1)
    if np.all(keys == keys[0]):
        unique, which = keys[:1], np.zeros(scene.frames, np.int64)
    else:
        unique, which = np.unique(keys, axis=0, return_inverse=True)
    floor = floor_top(scene) if scene.floor else None
    views = tuple((float(a), float(b), float(c)) for a, b, c in unique)
    images = _background_at(scene.width, scene.height, scene.background, scene.texture_seed, floor, views)
    # Row copies of whole images (a 2-D take) are plain memcpy, far faster than 4-D fancy indexing.
    flat = np.take(images.reshape(len(views), -1), which.reshape(-1), axis=0)
    return flat.reshape(scene.frames, scene.height, scene.width, 3)


# --- trails --------------------------------------------------------------------------------------


def _trail_coverage(traj: Trajectories, k: int, half_width: float, view: View, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Object k's trail in every frame, as (coverage (P,), flat pixel index (P,)) of covered pixels.

    The trail at frame i is the union of capsules along the center path up to i. Its distance
    field is a running minimum over segments, built on a world grid around the path (at screen
    resolution), each segment only inside its own small window; each frame then reads the
    grid through its view (a crop when the view is the world canvas, else bilinear).
    """
    path = traj.center[:, k]  # (T, 2) world px
    n_frames = len(path)
    # One node per world px is enough even for close-ups: away from the path's centerline (where
    # coverage is 1 anyway) the distance field is smooth, so bilinear reads are exact to ~0.1 px.
    step, zmin = 1.0, float(view.zoom.min())
    pad = half_width + 1.0 + 1.0 / zmin  # the capsule plus its anti-aliased rim, in world px
    lo = np.floor(path.min(axis=0) - pad) + 0.5  # grid nodes on pixel centers when step is 1
    gw, gh = (np.ceil((path.max(axis=0) + pad - lo) / step).astype(np.int64) + 2).tolist()
    a = (path[np.maximum(np.arange(n_frames) - 1, 0)] - lo) / step  # segment k joins frames k-1, k
    b = (path - lo) / step  # grid units
    reach = pad / step
    span = np.ceil(np.abs(b - a).max(axis=0) + 2 * reach).astype(np.int64) + 2
    win_w, win_h = min(int(span[0]), gw), min(int(span[1]), gh)
    x0 = np.clip(np.floor(np.minimum(a[:, 0], b[:, 0]) - reach).astype(np.int64), 0, gw - win_w)
    y0 = np.clip(np.floor(np.minimum(a[:, 1], b[:, 1]) - reach).astype(np.int64), 0, gh - win_h)
    cols = x0[:, None] + np.arange(win_w)  # (T, ww) grid columns
    rows = y0[:, None] + np.arange(win_h)  # (T, wh)
    a32, ab = a.astype(F32), (b - a).astype(F32)
    length2 = np.maximum((ab * ab).sum(axis=1), F32(1e-12))[:, None, None]
    ax = (cols.astype(F32) - a32[:, :1])[:, None, :]  # (T, 1, ww)
    ay = (rows.astype(F32) - a32[:, 1:])[:, :, None]  # (T, wh, 1)
    abx, aby = ab[:, 0, None, None], ab[:, 1, None, None]
    along = np.clip((ax * abx + ay * aby) / length2, 0.0, 1.0)
    ex, ey = ax - along * abx, ay - along * aby
    dist = np.full((n_frames, gh, gw), np.inf, F32)
    index = ((np.arange(n_frames)[:, None] * gh + rows)[:, :, None]) * gw + cols[:, None, :]
    dist.reshape(-1)[index] = np.sqrt(ex * ex + ey * ey) * F32(step)  # world px
    running = dist.reshape(n_frames, -1)
    for i in range(1, n_frames):  # running minimum; a per-row loop beats ufunc.accumulate on axis 0
        np.minimum(running[i - 1], running[i], out=running[i])
    if np.all(view.zoom == 1.0) and np.all(view.center == [w / 2, h / 2]):  # exact: no camera work
        # The grid is the screen grid, shifted: crop it to the canvas, keep pixels the trail ever covers.
        c0, r0 = int(lo[0] - 0.5), int(lo[1] - 0.5)
        xs0, ys0, xs1, ys1 = max(c0, 0), max(r0, 0), min(c0 + gw, w), min(r0 + gh, h)
        window = dist[:, max(ys0 - r0, 0) : max(ys1 - r0, 0), max(xs0 - c0, 0) : max(xs1 - c0, 0)]
        y, x = np.nonzero(window[-1] < F32(0.5 + half_width))
        cover = np.clip(F32(0.5 + half_width) - window[:, y, x], 0.0, 1.0)  # (T, P)
        pixel = (y + ys0) * w + x + xs0
        return cover.reshape(-1), (np.arange(n_frames)[:, None] * (h * w) + pixel).reshape(-1)
    # Elsewhere: a bilinear read of the distance field at each pixel's world position, only inside a
    # per-frame window around the grid's footprint on screen (one window size for all frames).
    zoom = view.zoom[:, None]
    corner_lo = view.to_screen(np.broadcast_to(lo - 0.5, (n_frames, 2)))  # (T, 2) grid corner on screen
    extent = np.array([gw, gh]) * step * zoom  # (T, 2) screen px
    span_w = min(w, int(math.ceil(float(extent[:, 0].max()))) + 2)
    span_h = min(h, int(math.ceil(float(extent[:, 1].max()))) + 2)
    sx0 = np.clip(np.floor(corner_lo[:, 0]).astype(np.int64), 0, w - span_w)
    sy0 = np.clip(np.floor(corner_lo[:, 1]).astype(np.int64), 0, h - span_h)
    scols = sx0[:, None] + np.arange(span_w)  # (T, sw) screen columns
    srows = sy0[:, None] + np.arange(span_h)  # (T, sh)
    fx = ((scols + 0.5 - w / 2) / zoom + view.center[:, :1] - lo[0]) / step  # (T, sw) grid coordinates
    fy = ((srows + 0.5 - h / 2) / zoom + view.center[:, 1:] - lo[1]) / step  # (T, sh)
    ix = np.clip(np.floor(fx), 0, gw - 2).astype(np.int64)
    iy = np.clip(np.floor(fy), 0, gh - 2).astype(np.int64)
    tx = np.clip(fx - ix, 0.0, 1.0).astype(F32)[:, None, :]
    ty = np.clip(fy - iy, 0.0, 1.0).astype(F32)[:, :, None]
    # Each node with its right, lower and lower-right neighbours as one 16-byte value, so that one
    # 1-D gather fetches the four corners of a bilinear cell.
    capped = np.minimum(dist, F32(1e6))  # no inf * 0 in the interpolation
    quad = np.empty((n_frames, gh, gw, 4), F32)
    quad[..., 0] = capped
    quad[:, :, :-1, 1] = capped[:, :, 1:]
    quad[:, :-1, :, 2] = capped[:, 1:, :]
    quad[:, :-1, :-1, 3] = capped[:, 1:, 1:]
    cells = quad.reshape(-1, 4).view(np.complex128).reshape(-1)
    corner = (np.arange(n_frames)[:, None, None] * gh + iy[:, :, None]) * gw + ix[:, None, :]
    near = cells[corner].view(F32).reshape(*corner.shape, 4)
    top = near[..., 0] + (near[..., 1] - near[..., 0]) * tx
    bottom = near[..., 2] + (near[..., 3] - near[..., 2]) * tx
    screen = (top + (bottom - top) * ty - F32(half_width)) * view.zoom.astype(F32)[:, None, None]
    inside = ((fx >= 0) & (fx <= gw - 1))[:, None, :] & ((fy >= 0) & (fy <= gh - 1))[:, :, None]
    cover = np.where(inside, np.clip(F32(0.5) - screen, 0.0, 1.0), F32(0.0))
    keep = np.flatnonzero(cover)
    frame, rest = np.divmod(keep, span_h * span_w)
    row, col = np.divmod(rest, span_w)
    return cover.reshape(-1)[keep], (frame * h + sy0[frame] + row) * w + sx0[frame] + col


def _paint_trail(channels: list[np.ndarray], coverage: tuple[np.ndarray, np.ndarray], color: str) -> None:
    """Blend a trail's coverage into the frames' color channels (flat strided views)."""
    cover, index = coverage
    for channel, value in zip(channels, COLORS[color]):
        old = channel[index].astype(F32)
        channel[index] = old + cover * (F32(value) - old) + F32(0.5)
