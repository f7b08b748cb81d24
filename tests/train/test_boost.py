"""A learning-rate scale for the parts grown onto a trained DiT (kinema.train.boost)."""

from pathlib import Path

import pytest
import torch
from torch import nn

from kinema.models.dit import DiT, DiTConfig, TextContext
from kinema.train.boost import RegionBoost, boost_for, grown_regions
from kinema.train.runner import Job, OptimConfig, param_groups, run
from tests.train.test_runner import make_job

TINY = DiTConfig(latent_channels=4, width=32, depth=1, heads=2, text_dim=16, frequency_dim=16)


def test_the_step_on_a_region_is_scaled_and_nothing_else_changes() -> None:
    weight = nn.Parameter(torch.ones(3, 4))
    other = nn.Parameter(torch.ones(5))
    optimizer = torch.optim.SGD([weight, other], lr=0.1)
    boost = RegionBoost([(weight, (slice(None), slice(2, None)))], scale=7.0)
    weight.grad, other.grad = torch.ones(3, 4), torch.ones(5)
    with boost.around_step():
        optimizer.step()
    assert torch.allclose(weight[:, :2], torch.full((3, 2), 0.9))  # the plain step
    assert torch.allclose(weight[:, 2:], torch.full((3, 2), 1 - 0.7))  # 7 times it
    assert torch.allclose(other, torch.full((5,), 0.9))


def test_grown_regions_are_the_place_layer_and_the_input_layer_columns() -> None:
    plain = DiT(TINY)
    assert grown_regions(plain) == []
    grown = DiT(DiTConfig(**{**TINY.__dict__, "position_features": 8, "word_states": True, "text_dim": 32}))
    regions = grown_regions(grown)
    shapes = sorted(tuple(p[index].shape) for p, index in regions)
    assert shapes == [(32,), (32, 8), (32, 16), (32, 16)]  # place bias and weight; two text layers' input-layer halves
    text = dict(grown.named_parameters())["text_proj.0.weight"]
    assert any(p is text and index[1] == slice(16, None) for p, index in regions)
    with pytest.raises(TypeError, match="defined for a DiT"):
        grown_regions(nn.Linear(2, 2))


def test_adamw_moves_the_grown_parts_scale_times_as_far() -> None:
    """One AdamW step of two identical models, one boosted: the grown parts move 10x as far, every
    other parameter exactly as far."""
    cfg = DiTConfig(**{**TINY.__dict__, "position_features": 8, "word_states": True, "text_dim": 32})
    torch.manual_seed(0)
    models = [DiT(cfg), DiT(cfg)]
    models[1].load_state_dict(models[0].state_dict())
    starts = [{n: p.detach().clone() for n, p in m.named_parameters()} for m in models]
    for model, scale in zip(models, (1.0, 10.0)):
        optimizer = torch.optim.AdamW(param_groups(model, 0.01), lr=1e-3)
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        with boost_for(model, scale).around_step():
            optimizer.step()
    moved = [{n: p.detach() - starts[i][n] for n, p in m.named_parameters()} for i, m in enumerate(models)]
    assert torch.allclose(moved[1]["position_embed.weight"], 10 * moved[0]["position_embed.weight"], atol=1e-7)
    assert torch.allclose(moved[1]["text_proj.0.weight"][:, 16:], 10 * moved[0]["text_proj.0.weight"][:, 16:], atol=1e-7)
    assert torch.equal(moved[1]["text_proj.0.weight"][:, :16], moved[0]["text_proj.0.weight"][:, :16])
    assert torch.equal(moved[1]["patch_embed.weight"], moved[0]["patch_embed.weight"])
    assert moved[0]["position_embed.weight"].abs().min() > 0


def test_the_training_loop_applies_the_scale(tmp_path: Path) -> None:
    """One step of `run` on a DiT job with scale 1 and 10: the place layer moves 10x as far."""
    cfg = DiTConfig(**{**TINY.__dict__, "position_features": 8})
    torch.manual_seed(0)
    trained = DiT(cfg)
    for p in trained.parameters():  # as if trained: a fresh DiT's zero adaLN and output layers pass no gradient back
        nn.init.normal_(p, std=0.1)
    start = trained.state_dict()
    text = TextContext(torch.randn(2, 3, 16), torch.ones(2, 3, dtype=torch.bool), torch.randn(2, 16))
    moved = []
    for scale in (1.0, 10.0):
        model = DiT(cfg)
        model.load_state_dict(start)
        job = Job("dit", model, lambda step: torch.randn(2, 4, 1, 4, 4, generator=torch.Generator().manual_seed(step)),
                  lambda m, x: ((m(x, torch.full((2,), 0.5), text) - x) ** 2).mean(), {}, grown=grown_regions)
        job.loss = (lambda loss: lambda m, x: (loss(m, x), {}))(job.loss)
        run(job, OptimConfig(steps=1, lr=1e-3, warmup=1, grown_lr_scale=scale, checkpoint_every=10), tmp_path / f"run{scale}", progress=False)
        moved.append(model.position_embed.weight.detach() - start["position_embed.weight"])
    assert moved[0].abs().max() > 0
    assert torch.allclose(moved[1], 10 * moved[0], atol=1e-7)


def test_a_scale_needs_grown_parts_and_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no place features or word states to scale"):
        run(make_job(), OptimConfig(steps=2, grown_lr_scale=5.0), tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="no place features or word states to scale"):
        boost_for(DiT(TINY), 5.0)
    with pytest.raises(ValueError, match="must be positive"):
        RegionBoost([], scale=0.0)


def test_sharded_parameters_are_refused_only_when_there_is_a_step_to_stretch() -> None:
    """FSDP shards parameters (DTensors, which have `full_tensor`): a scale other than 1 cannot
    stretch a shard's columns and is refused, but the default scale must not stop an FSDP run of a
    model that has place features or word states."""

    class Shard(nn.Parameter):
        def full_tensor(self) -> torch.Tensor:
            return self.data

    region = (Shard(torch.zeros(2, 2)), (slice(None),))
    RegionBoost([region], scale=1.0)  # no error: nothing to stretch
    with pytest.raises(ValueError, match="does not work with --parallel fsdp"):
        RegionBoost([region], scale=2.0)
