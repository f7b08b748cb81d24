"""The arithmetic behind data parallelism, in one process: pieces cover the batch, and the pieces'
loss shares add up to the whole batch's loss (so averaged gradients equal the batch's)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kinema.models.dit import DiT
from kinema.train.dit import dit_loss, dit_piece, dit_piece_loss
from kinema.train.distributed import ParallelConfig, split_rows
from kinema.train.latents import LatentCache
from tests.distributed.dit_job import MODEL, config, empty_text


def test_split_rows_covers_the_batch_in_order() -> None:
    for count, parts in ((10, 4), (8, 8), (13, 3)):
        rows = [split_rows(count, i, parts) for i in range(parts)]
        assert [r for s in rows for r in range(s.start, s.stop)] == list(range(count))
        assert max(s.stop - s.start for s in rows) - min(s.stop - s.start for s in rows) <= 1
    with pytest.raises(ValueError, match="cannot be split into 4 pieces"):
        split_rows(3, 0, 4)


def test_parallel_config_names_bad_values() -> None:
    with pytest.raises(ValueError, match="strategy 'zero3'"):
        ParallelConfig(strategy="zero3")
    with pytest.raises(ValueError, match="grad_accum 0"):
        ParallelConfig(grad_accum=0)
    assert ParallelConfig().plain and not ParallelConfig(grad_accum=2).plain


@pytest.mark.parametrize("step", [0, 1, 2, 3])  # both buckets, with and without kept frames
def test_piece_shares_sum_to_the_batch_loss_and_gradient(latent_cache: Path, step: int) -> None:
    cfg = config(latent_cache)
    cache, empty = LatentCache(latent_cache, token_budget=cfg.token_budget), empty_text()
    batch = cache.batch(step, cfg.seed)
    torch.manual_seed(0)
    model = DiT(MODEL)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))

    def generator() -> torch.Generator:
        return torch.Generator().manual_seed(1000 + step)

    whole, _ = dit_loss(model, batch, cfg, empty, generator())
    whole.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    parts = 3
    total = sum(dit_piece_loss(model, dit_piece(batch, generator(), cfg, empty, i, parts))[0] for i in range(parts))
    total.backward()
    assert abs(float(total.detach()) - float(whole.detach())) < 1e-6
    assert max(float((p.grad - g).abs().max()) for p, g in zip(model.parameters(), grads)) < 1e-6
