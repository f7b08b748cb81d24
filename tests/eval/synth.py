"""Tiny anti-aliased numpy drawing for evaluator tests that must not depend on the world renderer."""

from __future__ import annotations

import numpy as np

from kinema.world.palette import BACKGROUNDS, COLORS, FLOOR_COLOR

SUPERSAMPLE = 4


def coverage(shape: str, cx: float, cy: float, d: float, angle: float, height: int, width: int) -> np.ndarray:
    """Fraction of each pixel covered by a circle, square or triangle (side or diameter d, degrees)."""
    s = SUPERSAMPLE
    yy, xx = np.mgrid[0 : height * s, 0 : width * s].astype(np.float32)
    x, y = (xx + 0.5) / s - cx, (yy + 0.5) / s - cy
    a = np.radians(angle)
    u, v = np.cos(a) * x + np.sin(a) * y, -np.sin(a) * x + np.cos(a) * y
    if shape == "circle":
        inside = u * u + v * v <= (d / 2) ** 2
    elif shape == "square":
        inside = (np.abs(u) <= d / 2) & (np.abs(v) <= d / 2)
    else:  # equilateral triangle of side d, tip up at angle 0
        inside = np.ones_like(u, dtype=bool)
        inradius = d / (2 * np.sqrt(3))
        for k in range(3):
            n = np.pi / 2 + k * 2 * np.pi / 3
            inside &= u * np.cos(n) + v * np.sin(n) <= inradius
    return inside.reshape(height, s, width, s).mean(axis=(1, 3))


def canvas(height: int, width: int, background: str = "black", floor: bool = True, stars: int = 0) -> np.ndarray:
    frame = np.empty((height, width, 3), np.float32)
    frame[:] = BACKGROUNDS[background]
    rng = np.random.default_rng(stars)
    if stars:
        ys, xs = rng.integers(0, height, stars), rng.integers(0, width, stars)
        frame[ys, xs] += 12.0  # as faint as the world renderer's texture
    if floor:
        frame[height - height // 8 :] = FLOOR_COLOR
    return frame


def paint(frame: np.ndarray, color: str, shape: str, cx: float, cy: float, d: float, angle: float = 0.0) -> None:
    cov = coverage(shape, cx, cy, d, angle, frame.shape[0], frame.shape[1])[..., None]
    frame[:] = frame * (1 - cov) + np.array(COLORS[color], np.float32) * cov


def video(objects_per_frame: list[list[tuple]], height: int = 64, width: int = 64, **kw) -> np.ndarray:
    """objects_per_frame[t] = [(color, shape, cx, cy, d, angle), ...] -> uint8 (T, H, W, 3)."""
    out = []
    for objs in objects_per_frame:
        frame = canvas(height, width, **kw)
        for obj in objs:
            paint(frame, *obj)
        out.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
    return np.stack(out)
