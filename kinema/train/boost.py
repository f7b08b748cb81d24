"""A larger learning rate for the parts grown onto a trained DiT: the place-feature layer and the
word-state text columns (`--position-features`, `--word-states`).

They start at zero, and at a fine-tuning rate they stay too small to matter: after 3,500 CPU steps
at lr 1e-4 the new text columns had a norm of 0.73 against 16.6 for the old ones. AdamW moves each
element by about lr whatever the gradient's scale, so scaling their gradients cannot help, and
columns of one matrix cannot be a parameter group of their own. So each optimizer step is
stretched on these regions: w <- w_before + scale * (w_after - w_before), exactly `scale` times
the learning rate there (weight decay included), with the optimizer's moments untouched, so a
checkpoint resumes as any other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

Region = tuple[torch.Tensor, tuple[slice, ...]]  # a parameter and the index of its grown part


def grown_regions(model: nn.Module) -> list[Region]:
    """The place-feature layer (whole) and the word-state half of the text input columns of a DiT."""
    from kinema.models.dit import TEXT_INPUTS, DiT

    if not isinstance(model, DiT):
        raise TypeError(f"grown regions are defined for a DiT, not {type(model).__name__}")
    regions: list[Region] = []
    if model.position_embed is not None:
        regions += [(p, (slice(None),)) for p in model.position_embed.parameters()]
    if model.cfg.word_states:
        params = dict(model.named_parameters())
        half = model.cfg.text_dim // 2  # [last layer | input layer]: the input layer is the grown half
        regions += [(params[name], (slice(None), slice(half, None))) for name in TEXT_INPUTS]
    return regions


class RegionBoost:
    """Multiplies the optimizer's step on `regions` by `scale` (see the module's docstring)."""

    def __init__(self, regions: list[Region], scale: float) -> None:
        if not scale > 0:
            raise ValueError(f"the grown parts' learning-rate scale (--grown-lr-scale) must be positive, got {scale}")
        if scale != 1 and not regions:
            raise ValueError(f"--grown-lr-scale {scale:g}: the model has no place features or word states to scale "
                             "(add --position-features 16 or --word-states)")
        if scale != 1 and any(hasattr(p, "full_tensor") for p, _ in regions):  # at 1 there is nothing to stretch
            raise ValueError("--grown-lr-scale needs whole parameters on each process: it does not work with "
                             "--parallel fsdp (use ddp or one process)")
        self.regions, self.scale = regions, scale

    @contextlib.contextmanager
    def around_step(self) -> Iterator[None]:
        """Wrap `optimizer.step()` in this."""
        if self.scale == 1:  # (a scale other than 1 always has regions: the constructor checks)
            yield
            return
        before = [p.detach()[index].clone() for p, index in self.regions]
        yield
        with torch.no_grad():
            for (p, index), old in zip(self.regions, before):
                p[index] = old + self.scale * (p[index] - old)


def boost_for(model: nn.Module, scale: float) -> RegionBoost:
    """The boost of a DiT's grown parts by `scale` (1: a no-op; otherwise the DiT must have some)."""
    return RegionBoost(grown_regions(model), scale)
