import pytest
import torch

from kinema.models.dit import DiT, DiTConfig, TextContext
from kinema.models.layers import apply_rope, rope_frequencies

TINY = DiTConfig(latent_channels=4, width=32, depth=2, heads=2)


def text(batch: int, length: int = 5, seed: int = 0) -> TextContext:
    g = torch.Generator().manual_seed(seed)
    return TextContext(torch.randn(batch, length, 384, generator=g), torch.ones(batch, length, dtype=torch.bool), torch.randn(batch, 384, generator=g))


def trained_like(model: DiT) -> DiT:
    """Perturb the zero-initialised output layers so outputs depend on inputs."""
    torch.manual_seed(1)
    for p in model.parameters():
        if p.abs().sum() == 0:
            p.data.normal_(0, 0.05)
    return model


@pytest.mark.parametrize("grid", [(1, 8, 8), (9, 8, 8), (9, 8, 12), (9, 12, 8), (9, 8, 14), (17, 4, 4)])
def test_any_grid_one_model(grid: tuple[int, int, int]) -> None:
    model = DiT(TINY)
    x = torch.randn(2, 4, *grid)
    assert model(x, torch.rand(2), text(2)).shape == x.shape


def test_adaln_zero_starts_at_zero_output() -> None:
    out = DiT(TINY)(torch.randn(1, 4, 3, 4, 4), torch.rand(1), text(1))
    assert torch.count_nonzero(out) == 0


def test_per_frame_timesteps_and_text_change_the_output() -> None:
    model = trained_like(DiT(TINY)).eval()
    x = torch.randn(1, 4, 3, 4, 4)
    base = model(x, torch.full((1, 3), 0.5), text(1))
    other_t = model(x, torch.tensor([[0.0, 0.5, 0.5]]), text(1))
    assert not torch.allclose(base, other_t)
    assert not torch.allclose(base, model(x, torch.full((1, 3), 0.5), text(1, seed=3)))
    # a (B,) timestep equals the same value for every frame
    assert torch.allclose(base, model(x, torch.tensor([0.5]), text(1)), atol=1e-6)


def test_padding_tokens_are_ignored() -> None:
    model = trained_like(DiT(TINY)).eval()
    x = torch.randn(1, 4, 1, 4, 4)
    t = text(1, length=4)
    padded = TextContext(torch.cat([t.tokens, torch.randn(1, 3, 384)], 1), torch.cat([t.mask, torch.zeros(1, 3, dtype=torch.bool)], 1), t.pooled)
    tt = torch.tensor([0.3])
    assert torch.allclose(model(x, tt, t), model(x, tt, padded), atol=1e-5)


def test_cached_text_kv_gives_the_same_velocity() -> None:
    model = trained_like(DiT(TINY)).eval()
    x, t, c = torch.randn(2, 4, 3, 4, 4), torch.rand(2), text(2)
    assert torch.allclose(model(x, t, c), model(x, t, c, model.text_kv(c)), atol=1e-6)


def test_rope_is_relative() -> None:
    """Rotary attention scores depend only on position differences."""
    q, k = torch.randn(1, 1, 1, 12), torch.randn(1, 1, 1, 12)
    pos = lambda a: rope_frequencies(torch.tensor([a], dtype=torch.float32), (4, 4, 4))
    s1 = (apply_rope(q, pos([2.0, 3.0, 1.0])) * apply_rope(k, pos([1.0, 1.0, 0.0]))).sum()
    s2 = (apply_rope(q, pos([5.0, 7.0, 4.0])) * apply_rope(k, pos([4.0, 5.0, 3.0]))).sum()
    assert torch.allclose(s1, s2, atol=1e-5)


def test_bad_input_is_named() -> None:
    model = DiT(TINY)
    with pytest.raises(ValueError, match="channels"):
        model(torch.randn(1, 3, 1, 4, 4), torch.rand(1), text(1))
    with pytest.raises(ValueError, match="not divisible"):
        model(torch.randn(1, 4, 1, 5, 4), torch.rand(1), text(1))
    with pytest.raises(ValueError, match="timesteps"):
        model(torch.randn(1, 4, 2, 4, 4), torch.rand(1, 3), text(1))
