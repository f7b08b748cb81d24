"""Shot cuts and camera motion from the background texture and the objects, pixels only.

Contract:
- `background_images(frames, labels)`: gray frames with every object and floor pixel replaced by
  the frame's background level, so only the texture (stars, stripes) is left to compare.
- `texture_shift(a, b)`: (dx, dy, peak) from phase correlation: how far b's texture moved
  relative to a (pixels, subpixel), and how alike they are (1 = same texture, ~0 = unrelated).
- `find_cuts(...)`: frames that start a new shot (always including 0).
- `pan_per_frame(...)` and `zoom_factor(...)`: camera motion within a shot. A camera panning left
  makes the world scroll right, so the texture shift is minus the camera motion.

Why the background: in the world the camera is the only thing that moves the texture, so texture
shift is camera motion and a sudden change of texture (new framing) is a cut. Objects vote too,
because a learned model may paint a flat background: when every visible object changes size at
once, or all jump together, the framing changed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kinema.eval.detect import BACKGROUND, Detection

TEXTURE_MAX = 30.0  # gray levels above the background that can still be texture (stars, stripes)
TEXTURE_RELIABLE = 0.3  # median phase-correlation peak above which the texture decides cuts
CUT_PEAK_RATIO = 0.4  # a pair whose correlation drops below this fraction of the median is a cut
PAN_NOISE = 0.3  # pixels/frame of texture motion that still counts as a still camera
CUT_NCC = 0.25  # ... and below this absolute correlation (a new framing measures ~0.1, a zoom 0.3+)
CUT_DIP_RATIO = 0.85  # a texture dip that counts when objects also resize at once
CUT_NCC_SURE = 0.12  # below this no object evidence is needed
CUT_AREA_RATIO = 1.3  # every common object changing area by this factor at once: new framing


def background_images(frames: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, H, W) float32 gray texture (zero where blanked) and the (T, H, W) mask of kept pixels."""
    gray = frames.astype(np.float32).mean(-1)
    bg = labels == BACKGROUND
    # Grow the blank around objects by two pixels: their anti-aliased and blurred edges are not
    # texture, and would drag the shift estimate along with the object.
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True
    blank = ndimage.binary_dilation(~bg, structure=structure, iterations=2)
    out = np.zeros_like(gray)
    keep = ~blank
    for t in range(len(gray)):
        if keep[t].sum() < 16:
            keep[t] = False
            continue
        level = float(np.median(gray[t][keep[t]]))
        texture = gray[t] - level
        # The world's texture is faint (a few RGB units); anything brighter is not texture.
        keep[t] &= np.abs(texture) < TEXTURE_MAX
        out[t] = np.where(keep[t], texture, 0.0)
    return out, keep


def _window(height: int, width: int) -> np.ndarray:
    return np.outer(np.hanning(height), np.hanning(width)).astype(np.float32) + 1e-3


def texture_shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Phase correlation of two texture images: (dx, 0, peak); b ~ a moved right by dx."""
    if not a.any() or not b.any():
        return 0.0, 0.0, 0.0
    win = _window(*a.shape)
    fa, fb = np.fft.fft2(a * win), np.fft.fft2(b * win)
    cross = fb * np.conj(fa)
    power = np.abs(cross)
    # Regularised normalisation: pure phase correlation amplifies bins that hold only noise.
    corr = np.real(np.fft.ifft2(cross / (power + 0.05 * power.max() + 1e-9)))
    # The world's camera pans horizontally only. Searching the row of horizontal shifts alone
    # also resolves stripes, whose shift along their own direction is invisible (a diagonal
    # stripe moved right looks the same as moved up).
    iy, ix = 0, int(np.argmax(corr[0]))
    peak = float(corr[iy, ix])
    h, w = corr.shape

    def sub(c_m: float, c_0: float, c_p: float) -> float:  # parabola through three samples
        denom = c_m - 2 * c_0 + c_p
        return 0.0 if denom >= 0 else float(0.5 * (c_m - c_p) / denom)

    dy = 0.0
    dx = ix + sub(corr[iy, (ix - 1) % w], corr[iy, ix], corr[iy, (ix + 1) % w])
    dx = dx - w if dx > w / 2 else dx
    return float(dx), float(dy), peak


def pair_shifts(texture: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """(T, 3): texture shift from frame t-1 to t and how alike the two textures are once aligned
    (normalised correlation over pixels both frames keep; 1 = same texture). Row 0 is (0, 0, 1).

    The correlation, not the phase-correlation peak, measures likeness: periodic stripes spread
    the phase peak over many equal maxima even when the texture matches exactly.
    """
    out = np.zeros((len(texture), 3), dtype=np.float64)
    out[0, 2] = 1.0
    # Likeness on slightly blurred texture: a zoom moves stars by fractions of a pixel per frame,
    # which should not read as a new texture.
    soft = ndimage.gaussian_filter(texture, sigma=(0, 0.8, 0.8))
    for t in range(1, len(texture)):
        dx, dy, _ = texture_shift(texture[t - 1], texture[t])
        shift = (int(round(dy)), int(round(dx)))
        before = np.roll(soft[t - 1], shift, axis=(0, 1))
        both = keep[t] & np.roll(keep[t - 1], shift, axis=(0, 1))
        out[t] = (dx, dy, _ncc(before[both], soft[t][both]))
    return out


def _ncc(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 16:
        return 0.0
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (np.sqrt((x * x).sum() * (y * y).sum()) + 1e-6))


def find_cuts(shifts: np.ndarray, per_frame: list[list[Detection]], min_side: int) -> list[int]:
    """Frames that start a shot (always including 0).

    A cut is a texture that stops matching (correlation ~0; between CUT_NCC_SURE and CUT_NCC only if
    the objects seen on both sides change size or place, since a zooming star field decorrelates a
    little too), or objects that all resize or all jump together (a new framing, for a model that
    paints no texture).
    """
    cuts = [0]
    peaks = shifts[1:, 2]
    reliable = len(peaks) > 0 and float(np.median(peaks)) > TEXTURE_RELIABLE
    for t in range(1, len(per_frame)):
        pairs = _common(per_frame[t - 1], per_frame[t])
        texture_cut = reliable and shifts[t, 2] < min(CUT_NCC, CUT_PEAK_RATIO * float(np.median(peaks)))
        if texture_cut and pairs and shifts[t, 2] > CUT_NCC_SURE:
            texture_cut = any(_area_ratio(a, b) > 1.12 or np.hypot(b.x - a.x, b.y - a.y) > 0.25 * min_side for a, b in pairs)
        # Periodic stripes still half-match after a small reframing: a clear texture dip plus every
        # common object resized at once is a cut too (zooms and growth change size ~2% a frame).
        texture_dip = reliable and shifts[t, 2] < CUT_DIP_RATIO * float(np.median(peaks))
        resized = bool(pairs) and all(_area_ratio(a, b) > 1.12 for a, b in pairs)
        if texture_cut or (texture_dip and resized) or _objects_reframed(pairs, min_side):
            if t - cuts[-1] >= 2:  # a shot lasts at least two frames; ignore double triggers
                cuts.append(t)
    return cuts


def _common(before: list[Detection], after: list[Detection]) -> list[tuple[Detection, Detection]]:
    """Objects seen whole in both frames, paired by color (unique colors only)."""
    pairs = []
    for a in before:
        same = [b for b in after if b.color == a.color]
        if len(same) == 1 and not (a.touches_edge or same[0].touches_edge or a.touches_other or same[0].touches_other):
            pairs.append((a, same[0]))
    return pairs


def _area_ratio(a: Detection, b: Detection) -> float:
    return max(a.area, b.area) / max(1e-6, min(a.area, b.area))


def _objects_reframed(pairs: list[tuple[Detection, Detection]], min_side: int) -> bool:
    if not pairs:
        return False
    if all(_area_ratio(a, b) > CUT_AREA_RATIO for a, b in pairs):
        return True
    if len(pairs) >= 2:
        jumps = np.array([[b.x - a.x, b.y - a.y] for a, b in pairs])
        mean = jumps.mean(0)
        together = np.linalg.norm(jumps - mean, axis=1).max() < 0.05 * min_side
        return bool(together and np.linalg.norm(mean) > 0.3 * min_side)
    return False


def pan_per_frame(shifts: np.ndarray, cuts: list[int]) -> np.ndarray:
    """(T, 2) texture motion in pixels/frame, per frame; 0 at each shot's first frame."""
    pan = shifts[:, :2].copy()
    for c in cuts:
        pan[c] = 0.0
    return pan


def shift_likeness(texture: np.ndarray, keep: np.ndarray, start: int, stop: int, dx: float) -> float:
    """Correlation of the shot's last texture with its first moved right by dx pixels."""
    if stop - start < 2:
        return 0.0
    shift = int(round(dx))
    before = np.roll(texture[start], shift, axis=1)
    both = keep[stop - 1] & np.roll(keep[start], shift, axis=1)
    return _ncc(before[both], texture[stop - 1][both])


def zoom_factor(texture: np.ndarray, keep: np.ndarray, start: int, stop: int) -> tuple[float, float]:
    """(scale, ncc): how much larger the texture looks at frame stop-1 than at start."""
    if stop - start < 2:
        return 1.0, 0.0
    a, b = texture[start], texture[stop - 1]
    if not a.any() or not b.any():
        return 1.0, 0.0
    keep_a, keep_b = keep[start].astype(np.float32), keep[stop - 1]
    h, w = a.shape
    center = np.array([(h - 1) / 2, (w - 1) / 2])
    best = (1.0, -1.0)
    for scale in np.geomspace(0.5, 2.0, 33):
        # Output pixel p shows input pixel center + (p - center) / scale.
        matrix = np.eye(2) / scale
        offset = center - matrix @ center
        warped = ndimage.affine_transform(a, matrix, offset=offset, order=1, cval=0.0)
        warped_keep = ndimage.affine_transform(keep_a, matrix, offset=offset, order=0, cval=0.0)
        valid = (warped_keep > 0.5) & keep_b
        if valid.sum() < 32:
            continue
        ncc = _ncc(warped[valid], b[valid])
        if ncc > best[1]:
            best = (float(scale), ncc)
    return best
