"""Conversions between uint8 video frames (T, H, W, 3) and the models' pixel tensors (3, T, H, W)
in [-1, 1]. One place, so training and generation agree on the exact mapping."""

from __future__ import annotations

import numpy as np
import torch


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (3, T, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float().div(127.5).sub(1.0)


def tensor_to_frames(pixels: torch.Tensor) -> np.ndarray:
    """float (3, T, H, W) in about [-1, 1] -> uint8 (T, H, W, 3), rounded and clipped."""
    return pixels.detach().clamp(-1, 1).add(1).mul(127.5).round().byte().permute(1, 2, 3, 0).contiguous().cpu().numpy()
