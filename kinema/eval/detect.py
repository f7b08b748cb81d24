"""Pixels to objects: per-frame detections of the world's palette objects, from pixels alone.

Contract: `detect(frames)` takes uint8 frames (T, H, W, 3) and returns, per frame, the objects it
sees (`Detection`: palette color, centroid, soft area, bbox, shape, rotation, whether it touches
the frame edge) plus the frame's background color and floor line. `kinema.eval.analyze.analyze(frames, fps)` adds
tracks over time (`track.py`), shot cuts and camera motion (`camera.py`) into one `Analysis`.
Nothing here reads a scene or ground truth: a generated MP4 and a world render go the same way.

How, and why that way:
- Each pixel takes the nearest palette color if it is within `COLOR_RADIUS` (RGB distance) and
  nearer to it than to the frame's background and the floor gray. A distance threshold, not exact
  equality, so blur, H.264 chroma noise and a learned model's slight color shifts still count,
  while anti-aliased edge mixtures (half object, half background) mostly fall out.
- The background color is estimated per frame (median of pixels far from every object color), so
  a model that renders "black" as (25, 20, 20) is still read correctly.
- Shape from angular Fourier moments of the mask, |sum r^2 e^{i n theta}| / sum r^2: a circle has
  none, a square a strong 4-fold one, a triangle a strong 3-fold one. They are rotation invariant
  (a spinning square stays a square) and their phase is the rotation (arg / n), which is what the
  spin metric needs; fill ratio alone confuses a 45-degree square with a triangle.
- Area is soft: each pixel near the component counts by how far it lies from the background
  toward the object color, so anti-aliased edges count by coverage and sizes come out unbiased.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kinema.world.palette import COLORS, FLOOR_COLOR, SIZES

COLOR_NAMES: tuple[str, ...] = tuple(COLORS)
PALETTE = np.array([COLORS[c] for c in COLOR_NAMES], dtype=np.float32)  # (9, 3)
FLOOR = np.array(FLOOR_COLOR, dtype=np.float32)
COLOR_RADIUS = 72.0  # below the closest palette pair (orange-yellow, 81) so neighbours never swap
CANDIDATE_DISTANCE = 40.0  # RGB distance from the local background below which a pixel is background
MIX_RADIUS = 60.0  # RGB distance from a color's anti-aliasing line that still counts as that color
# (4:2:0 H.264 halves chroma: a small object's pixels keep their luma but drift off the line)
BACKGROUND, FLOOR_LABEL = -1, -2
# Smallest component kept, as a fraction of a small object's area: drops stars, noise specks and
# edge slivers, keeps an object mostly outside the frame.
MIN_AREA_FRACTION = 0.15
# Shape thresholds on the Fourier moments, measured on anti-aliased renders from 7 px up (circle
# a3, a4 < 0.1; square a4 0.26-0.30; triangle a3 0.36-0.61) with room for blur.
SQUARE_A4, TRIANGLE_A3 = 0.16, 0.2


@dataclass(frozen=True)
class Detection:
    """One object seen in one frame. Pixels, image coordinates (x right, y down)."""

    frame: int
    color: str
    x: float  # centroid
    y: float
    area: float  # soft area in pixels (anti-aliased edges count by coverage)
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
    shape: str  # circle, square, triangle, or "unknown" when cut by the frame edge
    angle: float  # rotation in degrees within the shape's symmetry period (0 for a circle)
    touches_edge: bool  # partly outside the frame: shape and size are not trusted
    touches_other: bool = False  # borders another object (occlusion, contact): shape and size suspect

    @property
    def diameter(self) -> float:
        """Side or diameter in pixels implied by the area and shape (the WORLD.md size)."""
        return equivalent_diameter(self.area, self.shape)


@dataclass(frozen=True)
class FrameStats:
    """What the classifier saw in one frame, for the quality and smoothness metrics."""

    background: tuple[float, float, float]
    floor_top: int | None  # first floor row, or None when the frame shows no floor band
    classified: float  # fraction of pixels close to some class (object, background, floor)
    background_noise: float  # median absolute deviation of background pixels (RGB units)
    edge_width: float  # unclassified boundary pixels per object boundary pixel (blur)


def equivalent_diameter(area: float, shape: str) -> float:
    """Diameter (circle) or side (square, triangle) of a shape of this area."""
    if shape == "square":
        return float(np.sqrt(area))
    if shape == "triangle":  # equilateral, side s: area = sqrt(3)/4 s^2
        return float(np.sqrt(area * 4.0 / np.sqrt(3.0)))
    return float(2.0 * np.sqrt(area / np.pi))


def _floor_top(frame: np.ndarray) -> int | None:
    """First row of a gray band along the bottom edge, or None."""
    height = frame.shape[0]
    gray_rows = (np.linalg.norm(frame - FLOOR, axis=-1) < 40.0).mean(axis=1) > 0.6  # (H,)
    top = height
    while top > 0 and gray_rows[top - 1]:
        top -= 1
    # A floor is 1/8 of the height at zoom 1; a wide shot (zoom 0.4) shows up to ~0.35 of the
    # height, a close-up a thin band or none. Too little is a speck, too much a gray frame.
    band = height - top
    if band < 2 or band > height * 0.5:
        return None
    return top


def classify(frames: np.ndarray) -> tuple[np.ndarray, list[FrameStats], np.ndarray]:
    """Label each pixel: palette index 0..8, BACKGROUND (-1) or FLOOR_LABEL (-2).

    Returns labels (T, H, W) int8, per-frame stats, and per-pixel local background (T, H, W, 3)
    (background or floor color), which the soft area needs.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {frames.shape}")
    pixels = frames.astype(np.float32)
    t_count, height, width, _ = pixels.shape
    backgrounds, floor_tops = [], []
    local = np.empty_like(pixels)
    for t, frame in enumerate(pixels):
        floor_top = _floor_top(frame)
        # Objects cover a minority of the space above the floor, so its median pixel is background.
        bg = np.median(frame[: floor_top if floor_top is not None else height].reshape(-1, 3), axis=0)
        local[t] = bg
        if floor_top is not None:
            local[t, floor_top:] = FLOOR
        backgrounds.append(bg)
        floor_tops.append(floor_top)
    flat, l_flat = pixels.reshape(-1, 3), local.reshape(-1, 3)
    rel = flat - l_flat
    rel_sq = (rel * rel).sum(1)
    # Only pixels clearly off the background can be objects (half-covered by the nearest palette
    # color is >= 75 RGB units off; the world's texture is <= 21): the rest skip the 9-color model.
    candidates = np.nonzero(rel_sq > CANDIDATE_DISTANCE**2)[0]
    best = np.full(len(flat), BACKGROUND, dtype=np.int8)
    near = np.full(len(flat), np.inf, dtype=np.float32)
    if len(candidates):
        p, r = flat[candidates], rel[candidates]
        span = PALETTE[None] - l_flat[candidates][:, None, :]  # (M, 9, 3)
        # Mixture model: a pixel is alpha * color + (1 - alpha) * local background (anti-aliasing,
        # blur). It belongs to the color whose mixing line explains it best, if alpha >= 1/2 (it
        # is mostly covered). Plain nearest-color would call a yellow edge on navy "orange".
        rel_span = np.einsum("mk,mck->mc", r, span)
        span_sq = np.maximum((span * span).sum(-1), 1.0)
        alpha = rel_span / span_sq
        a = np.clip(alpha, 0.0, 1.0)
        residual_sq = np.where(alpha >= 0.5, rel_sq[candidates][:, None] - 2 * a * rel_span + a * a * span_sq, np.inf)
        choice = residual_sq.argmin(1)
        good = np.take_along_axis(residual_sq, choice[:, None], 1)[:, 0] < MIX_RADIUS**2
        best[candidates[good]] = choice[good]
        near[candidates] = np.linalg.norm(p[:, None, :] - PALETTE, axis=-1).min(1)
    labels = best.reshape(t_count, height, width)
    is_obj = labels >= 0
    near_dist = near.reshape(t_count, height, width)
    rows = np.arange(height)[None, :, None]
    below = rows >= np.array([f if f is not None else height for f in floor_tops])[:, None, None]
    labels[below & ~is_obj] = FLOOR_LABEL
    d_bg = np.sqrt(np.maximum(rel_sq, 0.0)).reshape(t_count, height, width)
    stats = _frame_stats(pixels, labels, d_bg, near_dist, backgrounds, floor_tops)
    return labels, stats, local


def _frame_stats(
    pixels: np.ndarray,
    labels: np.ndarray,
    d_bg: np.ndarray,
    near: np.ndarray,
    backgrounds: list[np.ndarray],
    floor_tops: list[int | None],
) -> list[FrameStats]:
    # "Classified": close to its class, not merely nearest. Background texture is faint, so 40.
    close = np.where(labels >= 0, near < COLOR_RADIUS * 0.75, d_bg < 40.0).mean(axis=(1, 2))
    obj = labels >= 0
    flat2d = np.zeros((3, 3, 3), dtype=bool)
    flat2d[1] = True
    boundary = (obj & ~ndimage.binary_erosion(obj, structure=flat2d)).sum(axis=(1, 2))
    ring = ndimage.binary_dilation(obj, structure=flat2d, iterations=2) & ~obj
    # Pixels around objects that are neither object nor clean background: the blur band. A crisp,
    # anti-aliased edge leaves about one such pixel per boundary pixel or fewer.
    unclear = (ring & (d_bg > 40.0)).sum(axis=(1, 2))
    stats = []
    for t in range(len(pixels)):
        bg_pixels = pixels[t][labels[t] == BACKGROUND]
        noise = float(np.median(np.abs(bg_pixels - backgrounds[t]))) if len(bg_pixels) else 255.0
        edge = float(unclear[t] / max(1, boundary[t]))
        bg = tuple(float(v) for v in backgrounds[t])
        stats.append(FrameStats(bg, floor_tops[t], float(close[t]), noise, edge))  # type: ignore[arg-type]
    return stats


def min_area(height: int, width: int) -> float:
    small = SIZES["small"] * min(height, width)
    return max(4.0, MIN_AREA_FRACTION * small * small)


def detect(frames: np.ndarray) -> tuple[list[list[Detection]], list[FrameStats], np.ndarray]:
    """Per-frame detections, frame stats and pixel labels (see `classify`) for uint8 (T, H, W, 3)."""
    labels, stats, local_bg = classify(frames)
    t_count, height, width = labels.shape
    pixels = frames.astype(np.float32)
    per_frame: list[list[Detection]] = [[] for _ in range(t_count)]
    # Label all frames at once with a structure that never links across time.
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = ndimage.generate_binary_structure(2, 2)
    smallest = min_area(height, width)
    cross = np.zeros((3, 3, 3), dtype=bool)
    cross[1] = ndimage.generate_binary_structure(2, 1)
    found = []
    kept = np.full(labels.shape, BACKGROUND, dtype=np.int8)  # palette index of kept components only
    for index in range(len(COLOR_NAMES)):
        mask = labels == index
        if not mask.any():
            continue
        comp, count = ndimage.label(mask, structure=structure)
        sizes = np.bincount(comp.ravel(), minlength=count + 1)
        # Thin lines (a seam between two touching objects mixes their colors) are not objects:
        # keep components with a pixel whose four neighbours are all in (a 5 px triangle has one).
        core = np.bincount(comp[ndimage.binary_erosion(mask, structure=cross)], minlength=count + 1)
        for lbl, sl in enumerate(ndimage.find_objects(comp), start=1):
            if sl is None or sizes[lbl] < smallest or core[lbl] == 0:
                continue
            t = sl[0].start
            component = comp[t] == lbl
            kept[t][component] = index
            found.append((component, index, t, sl[1], sl[2]))
    for component, index, t, rows, cols in found:
        per_frame[t].append(_describe(component, pixels[t], local_bg[t], kept[t], index, t, rows, cols))
    return per_frame, stats, labels


def _describe(
    mask: np.ndarray,
    frame: np.ndarray,
    local_bg: np.ndarray,
    kept: np.ndarray,
    index: int,
    t: int,
    rows: slice,
    cols: slice,
) -> Detection:
    height, width = mask.shape
    # Soft area over the component grown by one pixel, skipping other objects' pixels.
    r0, r1 = max(0, rows.start - 2), min(height, rows.stop + 2)
    c0, c1 = max(0, cols.start - 2), min(width, cols.stop + 2)
    sub = mask[r0:r1, c0:c1]
    grown = ndimage.binary_dilation(sub) & ((kept[r0:r1, c0:c1] < 0) | sub)
    color = PALETTE[index]
    bg = local_bg[r0:r1, c0:c1]
    span = color - bg
    alpha = ((frame[r0:r1, c0:c1] - bg) * span).sum(-1) / np.maximum((span * span).sum(-1), 1.0)
    alpha = np.clip(alpha, 0.0, 1.0)
    # Interior pixels count fully (a model's slightly-off color is still the object); boundary
    # pixels, inside or out, count by coverage, so sizes do not jump with subpixel position.
    interior = ndimage.binary_erosion(sub)
    weight = np.where(interior, 1.0, np.where(grown, alpha, 0.0))
    area = float(weight.sum())
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float32)
    cx = float((weight * xx).sum() / area)
    cy = float((weight * yy).sum() / area)
    touches = rows.start == 0 or cols.start == 0 or rows.stop == height or cols.stop == width
    ring_labels = kept[r0:r1, c0:c1][ndimage.binary_dilation(sub, iterations=2) & ~sub]
    touches_other = bool(((ring_labels >= 0) & (ring_labels != index)).any())
    shape, angle = _shape(xx[sub] - cx, yy[sub] - cy)
    return Detection(
        frame=t,
        color=COLOR_NAMES[index],
        x=cx + 0.5,  # pixel centers sit at +0.5 in continuous coordinates
        y=cy + 0.5,
        area=area,
        bbox=(cols.start, rows.start, cols.stop, rows.stop),
        shape="unknown" if touches else shape,
        angle=angle,
        touches_edge=bool(touches),
        touches_other=touches_other,
    )


def _shape(dx: np.ndarray, dy: np.ndarray) -> tuple[str, float]:
    """Circle, square or triangle from 3- and 4-fold angular moments; rotation from their phase."""
    r2 = dx * dx + dy * dy
    total = float(r2.sum())
    if total <= 0 or len(dx) < 5:
        return "unknown", 0.0
    theta = np.arctan2(dy, dx)
    m3 = complex((r2 * np.exp(3j * theta)).sum()) / total
    m4 = complex((r2 * np.exp(4j * theta)).sum()) / total
    a3, a4 = abs(m3), abs(m4)
    if a3 >= TRIANGLE_A3 and a3 > a4:
        return "triangle", float(np.degrees(np.angle(m3)) / 3.0) % 120.0
    if a4 >= SQUARE_A4:
        return "square", float(np.degrees(np.angle(m4)) / 4.0) % 90.0
    return "circle", 0.0
