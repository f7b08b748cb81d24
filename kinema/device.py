"""Where the models run: one parser for every `--device` flag and `device=` argument."""

from __future__ import annotations

import torch


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """'cpu', 'cuda', 'cuda:N' or 'auto' (the GPU when there is one, else the CPU) -> torch.device.

    Raises ValueError for any other name, and for a GPU when this PyTorch sees none."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device {device!r} is not known; use cpu, cuda, cuda:N or auto") from None
    if chosen.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use cpu, cuda, cuda:N or auto")
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for a GPU but this PyTorch sees none; use cpu or auto")
    return chosen
