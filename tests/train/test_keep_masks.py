"""Random keep masks in DiT training cover every shape the modes condition on."""

import torch

from kinema.train.dit import random_keep_mask


def shape_of(row: torch.Tensor) -> str:
    kept = row.nonzero().flatten().tolist()
    n = len(row)
    if kept == [0]:
        return "first frame"
    prefix = kept == list(range(len(kept)))
    suffix = kept == list(range(n - len(kept), n))
    if prefix:
        return "prefix"
    if suffix:
        return "suffix"
    runs = [k for k in kept if k - 1 not in kept]
    if len(runs) == 2 and kept[0] == 0 and kept[-1] == n - 1:
        return "both ends"
    return "scattered"


def test_masks_cover_every_mode_and_never_keep_everything() -> None:
    generator = torch.Generator().manual_seed(0)
    seen: dict[str, int] = {}
    both_ends_context = set()
    for _ in range(300):
        keep = random_keep_mask(9, 8, 0.5, generator)
        assert keep is not None and keep.shape == (8, 9)
        for row in keep:
            assert not row.all()  # something is always left to generate
            if row.any():
                kind = shape_of(row)
                seen[kind] = seen.get(kind, 0) + 1
                if kind == "both ends":
                    both_ends_context.add((int(row[:3].sum()), int(row[-3:].sum())))
    assert {"first frame", "prefix", "suffix", "both ends", "scattered"} <= set(seen)
    # connect/loop keep several context frames at each end (kinema.modes), not only the outermost ones
    assert (1, 1) in both_ends_context and any(a > 1 or b > 1 for a, b in both_ends_context)


def test_no_mask_for_single_frames_or_a_zero_rate() -> None:
    generator = torch.Generator().manual_seed(0)
    assert random_keep_mask(1, 4, 1.0, generator) is None
    assert random_keep_mask(9, 4, 0.0, generator) is None
