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

Speed (~2 ms for a 64x64, 33-frame clip on one core): the background is built once per distinct
view in uint8; each object is computed only inside a per-frame window around it, all frames at
once, and painted through flat-index gathers (solid interior assigned, only the rim blended);
occlusion is measured with a front-to-back pass only when windows meet; a trail's distance field
is a running minimum over short segment windows.
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
    if not _windows_overlap([covers[k][2] for k in order]):
        for k in order:  # nothing in front of anything: an object's visible area is its coverage
            visible[:, k] = covers[k][0].sum(axis=(1, 2))
    else:
        # Front to back: `clear` is how much of each pixel nearer objects have left uncovered.
        clear = np.ones(n_frames * h * w, F32)
        for k in reversed(order):
            cover, index, _ = covers[k]
            before = clear[index]
            weight = cover * before
            visible[:, k] = weight.sum(axis=(1, 2))
            clear[index] = before - weight
    for k in order:  # back to front: the painter's algorithm
        cover, index, _ = covers[k]
        solid = cover >= 1.0
        edge = (cover > 0.0) ^ solid
        inner, rim, share = index[solid], index[edge], cover[edge]
        for channel, value in zip(channels, COLORS[scene.objects[k].color]):
            channel[inner] = value  # the exact palette color inside
            old = channel[rim].astype(F32)  # anti-aliased rim, blended in float32
            channel[rim] = old + share * (F32(value) - old) + F32(0.5)

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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anti-aliased coverage (T, hb, wb) of one object, the flat pixel indices and window boxes (T, 4).

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
    return cover, index, np.stack([x0, y0, x0 + win_w, y0 + win_h], axis=1)


def _windows_overlap(boxes: list[np.ndarray]) -> bool:
    """Whether any two objects' windows (T, 4 = x0, y0, x1, y1) meet in any frame."""
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            meet = (a[:, 0] < b[:, 2]) & (b[:, 0] < a[:, 2]) & (a[:, 1] < b[:, 3]) & (b[:, 1] < a[:, 3])
            if meet.any():
                return True
    return False


# --- background: color, texture, floor -----------------------------------------------------------


@lru_cache(maxsize=64)
def _texture_tile(width: int, height: int, background: str, seed: int) -> np.ndarray:
    """A (2H, 2W) uint8 tile of RGB offsets (0..TEXTURE_AMPLITUDE) repeated over the world.

    Stars (black, night) are single bright texels; stripes (charcoal, forest) are soft vertical or
    diagonal lines, built from a 1-D profile. The seed fixes positions, phase and orientation.
    """
    rng = np.random.default_rng([seed, width, height])
    th, tw = 2 * height, 2 * width
    if background in ("black", "night"):
        tile = np.zeros((th, tw), np.uint8)
        count = max(1, round(th * tw * STAR_DENSITY))
        ys, xs = rng.integers(0, th, count), rng.integers(0, tw, count)
        tile[ys, xs] = np.rint(rng.uniform(0.35, 1.0, count) * TEXTURE_AMPLITUDE).astype(np.uint8)
    else:
        phase = rng.uniform(0, STRIPE_PERIOD)
        texel = np.arange(STRIPE_PERIOD) + 0.5
        profile = (0.5 + 0.5 * np.cos(2 * np.pi * (texel - phase) / STRIPE_PERIOD)) ** 6
        profile = np.rint(0.6 * TEXTURE_AMPLITUDE * profile).astype(np.uint8)
        slant = 1 if rng.random() < 0.5 else 0  # diagonal or vertical stripes
        # Row y is the repeated profile shifted by slant * y: a strided window over one long row.
        row = np.tile(profile, (tw + th) // STRIPE_PERIOD + 1)
        tile = np.lib.stride_tricks.as_strided(row, shape=(th, tw), strides=(slant * row.strides[0], row.strides[0])).copy()
    tile.setflags(write=False)
    return tile


def _background_at(
    width: int, height: int, background: str, seed: int, floor: float | None, views: np.ndarray
) -> np.ndarray:
    """Background images (U, H, W, 3) uint8 for views (U, 3) = (center x, center y, zoom)."""
    tile = _texture_tile(width, height, background, seed)
    th, tw = tile.shape
    cx, cy, zoom = views[:, :1], views[:, 1:2], views[:, 2:]
    # World position of each pixel center, then the texel it falls in (texture is nearest-sampled).
    ix = np.floor((np.arange(width) + 0.5 - width / 2) / zoom + cx).astype(np.int64) % tw  # (U, W)
    iy = np.floor((np.arange(height) + 0.5 - height / 2) / zoom + cy).astype(np.int64) % th  # (U, H)
    tex = np.take(tile.reshape(-1), (iy * tw)[:, :, None] + ix[:, None, :])  # (U, H, W)
    image = np.empty((*tex.shape, 3), np.uint8)
    for channel, value in enumerate(BACKGROUNDS[background]):  # per channel: a broadcast over 3 is slow
        np.add(tex, np.uint8(value), out=image[..., channel])  # at most 70 + 12: stays within uint8
    if floor is not None:
        top = (floor - cy) * zoom + height / 2  # (U, 1) screen y of the floor's top edge
        below = np.clip(np.arange(height)[None, :] + 1 - top, 0.0, 1.0)  # (U, H) floor share of each row
        image[below >= 1.0] = FLOOR_COLOR
        edge = (below > 0.0) & (below < 1.0)  # the one anti-aliased row per view
        if edge.any():
            share = below[edge][:, None, None]
            image[edge] = image[edge] * (1 - share) + np.array(FLOOR_COLOR) * share + 0.5
    return image


def _background_frames(scene: Scene, view: View) -> np.ndarray:
    """Writable (T, H, W, 3) uint8 background of every frame; frames sharing a view share the work."""
    keys = np.concatenate([view.center, view.zoom[:, None]], axis=1)
    if np.all(keys == keys[0]):
        unique, which = keys[:1], np.zeros(scene.frames, np.int64)
    else:
        unique, which = np.unique(keys, axis=0, return_inverse=True)
    floor = floor_top(scene) if scene.floor else None
    images = _background_at(scene.width, scene.height, scene.background, scene.texture_seed, floor, unique)
    # Row copies of whole images (a 2-D take) are plain memcpy, far faster than 4-D fancy indexing.
    flat = np.take(images.reshape(len(unique), -1), which.reshape(-1), axis=0)
    return flat.reshape(scene.frames, scene.height, scene.width, 3)


# --- trails --------------------------------------------------------------------------------------

MAX_DIRECT_VIEWS = 4  # up to this many distinct views (shots), trails are drawn exactly per view


def _trail_coverage(traj: Trajectories, k: int, half_width: float, view: View, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Object k's trail in every frame, as (coverage (P,), flat pixel index (P,)) of covered pixels.

    The trail at frame i is the union of capsules (half_width world px) along the center path up
    to frame i. With few distinct views (a still camera, cuts) its distance field is built straight
    on each view's pixel grid; with a moving camera it is built once on a world grid and read by
    each frame through its view, bilinearly.
    """
    path = traj.center[:, k]  # (T, 2) world px
    keys = np.concatenate([view.center, view.zoom[:, None]], axis=1)
    unique, which = np.unique(keys, axis=0, return_inverse=True)
    which = which.reshape(-1)
    if len(unique) <= MAX_DIRECT_VIEWS:
        covers, indices = [], []
        for u, (cx, cy, zoom) in enumerate(unique):
            frames = np.flatnonzero(which == u)
            points = (path[: frames[-1] + 1] - [cx, cy]) * zoom + [w / 2, h / 2]  # screen px
            half = half_width * zoom
            dist, x0, y0 = _distance_field(points, half + 1.0, (w, h))
            if dist.size == 0:
                continue
            ever = dist[frames[-1]] < F32(0.5 + half)  # the running minimum only shrinks
            y, x = np.nonzero(ever)
            cover = np.clip(F32(0.5 + half) - dist[frames][:, y, x], 0.0, 1.0)  # (F, P)
            covers.append(cover.reshape(-1))
            indices.append((frames[:, None] * (h * w) + (y + y0) * w + x + x0).reshape(-1))
        if not covers:
            return np.zeros(0, F32), np.zeros(0, np.int64)
        return np.concatenate(covers), np.concatenate(indices)
    return _trail_resampled(path, half_width, view, w, h)


def _distance_field(points: np.ndarray, pad: float, clip: tuple[int, int] | None) -> tuple[np.ndarray, int, int]:
    """Distance (S, gh, gw) from grid nodes to the polyline `points` (S, 2) up to each point.

    Node (i, j) sits at (x0 + j + 0.5, y0 + i + 0.5): pixel centers. The grid covers the path
    padded by `pad`, cut to [0, W) x [0, H) when `clip` = (W, H) is given. Segment k joins points
    k-1 and k (segment 0 is the first point); each is measured only in its own small window and
    the field is then a running minimum over segments.
    """
    count = len(points)
    x0, y0 = (np.floor(points.min(axis=0) - pad)).astype(np.int64).tolist()
    x1, y1 = (np.ceil(points.max(axis=0) + pad)).astype(np.int64).tolist()
    if clip is not None:
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, clip[0]), min(y1, clip[1])
    gw, gh = x1 - x0, y1 - y0
    if gw <= 0 or gh <= 0:
        return np.zeros((count, 0, 0), F32), x0, y0
    a = points[np.maximum(np.arange(count) - 1, 0)] - [x0 + 0.5, y0 + 0.5]  # grid units
    b = points - [x0 + 0.5, y0 + 0.5]
    span = np.ceil(np.abs(b - a).max(axis=0) + 2 * pad).astype(np.int64) + 2
    win_w, win_h = min(int(span[0]), gw), min(int(span[1]), gh)
    wx = np.clip(np.floor(np.minimum(a[:, 0], b[:, 0]) - pad).astype(np.int64), 0, gw - win_w)
    wy = np.clip(np.floor(np.minimum(a[:, 1], b[:, 1]) - pad).astype(np.int64), 0, gh - win_h)
    cols = wx[:, None] + np.arange(win_w)  # (S, ww) grid columns
    rows = wy[:, None] + np.arange(win_h)  # (S, wh)
    a32, ab = a.astype(F32), (b - a).astype(F32)
    length2 = np.maximum((ab * ab).sum(axis=1), F32(1e-12))[:, None, None]
    ax = (cols.astype(F32) - a32[:, :1])[:, None, :]  # (S, 1, ww)
    ay = (rows.astype(F32) - a32[:, 1:])[:, :, None]  # (S, wh, 1)
    abx, aby = ab[:, 0, None, None], ab[:, 1, None, None]
    along = np.clip((ax * abx + ay * aby) / length2, 0.0, 1.0)  # nearest point on the segment
    ex, ey = ax - along * abx, ay - along * aby
    dist = np.full((count, gh, gw), np.inf, F32)
    index = ((np.arange(count)[:, None] * gh + rows)[:, :, None]) * gw + cols[:, None, :]
    dist.reshape(-1)[index] = np.sqrt(ex * ex + ey * ey)
    running = dist.reshape(count, -1)
    for i in range(1, count):  # running minimum; a per-row loop beats ufunc.accumulate on axis 0
        np.minimum(running[i - 1], running[i], out=running[i])
    return dist, x0, y0


def _trail_resampled(path: np.ndarray, half_width: float, view: View, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """The trail under a moving camera: one world-grid distance field read bilinearly per frame.

    One node per world px is enough even for close-ups: away from the path's centerline (where
    coverage is 1 anyway) the distance field is smooth, so bilinear reads are exact to ~0.1 px.
    """
    n_frames = len(path)
    dist, gx0, gy0 = _distance_field(path, half_width + 1.0 + 1.0 / float(view.zoom.min()), None)
    gh, gw = dist.shape[1:]
    lo = np.array([gx0 + 0.5, gy0 + 0.5])  # world position of node (0, 0)
    # Only inside a per-frame window around the grid's footprint on screen (one size for all frames).
    zoom = view.zoom[:, None]
    corner = view.to_screen(np.broadcast_to(lo - 0.5, (n_frames, 2)))  # (T, 2) grid corner on screen
    extent = np.array([gw, gh]) * zoom  # (T, 2) screen px
    span_w = min(w, int(math.ceil(float(extent[:, 0].max()))) + 2)
    span_h = min(h, int(math.ceil(float(extent[:, 1].max()))) + 2)
    sx0 = np.clip(np.floor(corner[:, 0]).astype(np.int64), 0, w - span_w)
    sy0 = np.clip(np.floor(corner[:, 1]).astype(np.int64), 0, h - span_h)
    scols = sx0[:, None] + np.arange(span_w)  # (T, sw) screen columns
    srows = sy0[:, None] + np.arange(span_h)  # (T, sh)
    fx = (scols + 0.5 - w / 2) / zoom + view.center[:, :1] - lo[0]  # (T, sw) grid coordinates
    fy = (srows + 0.5 - h / 2) / zoom + view.center[:, 1:] - lo[1]  # (T, sh)
    ix = np.clip(np.floor(fx), 0, max(gw - 2, 0)).astype(np.int64)
    iy = np.clip(np.floor(fy), 0, max(gh - 2, 0)).astype(np.int64)
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
    node = (np.arange(n_frames)[:, None, None] * gh + iy[:, :, None]) * gw + ix[:, None, :]
    near = cells[node].view(F32).reshape(*node.shape, 4)
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
