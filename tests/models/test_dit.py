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


def test_attention_hook_replaces_every_attention_and_keeps_the_output() -> None:
    """`set_attention` is the seam for sequence-parallel attention: a wrapper that delegates to
    SDPA sees every self- and cross-attention call and changes nothing."""
    import torch.nn.functional as F

    model = trained_like(DiT(TINY)).eval()
    x, t, c = torch.randn(2, 4, 3, 4, 4), torch.rand(2), text(2)
    base = model(x, t, c)
    calls = []

    def spy(q, k, v, mask):  # type: ignore[no-untyped-def]
        calls.append((q.shape, k.shape, mask is None))
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    model.set_attention(spy)
    assert torch.allclose(model(x, t, c), base, atol=1e-6)
    assert len(calls) == 2 * TINY.depth
    assert sum(masked is False for *_, masked in calls) == TINY.depth  # cross-attention gets the text mask
    assert isinstance(model.blocks, torch.nn.ModuleList)


def test_block_equals_its_reference_formula() -> None:
    """The fused multiply-adds (addcmul) compute exactly the adaLN-Zero block of the DiT paper."""
    from einops import rearrange

    from kinema.models.layers import apply_rope

    model = trained_like(DiT(TINY)).eval()
    block = model.blocks[0]
    x, cond = torch.randn(2, 3, 4, 32), torch.randn(2, 3, 32)
    rot = model.positions(3, 2, 2)
    c = text(2)
    kv = block.cross.context_kv(model.text_proj(c.tokens))
    with torch.no_grad():
        s1, sc1, g1, s2, sc2, g2 = block.modulation(cond).unsqueeze(2).chunk(6, dim=-1)
        h = block.norm1(x) * (1 + sc1) + s1
        q, k, v = rearrange(block.attn.qkv(rearrange(h, "b f s d -> b (f s) d")), "b n (three h d) -> three b h n d", three=3, h=2)
        q, k = apply_rope(block.attn.q_norm(q), rot), apply_rope(block.attn.k_norm(k), rot)
        a = block.attn.out(rearrange(torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, -1) @ v, "b h n d -> b n (h d)"))
        ref = x + g1 * rearrange(a, "b (f s) d -> b f s d", f=3)
        ref = ref + rearrange(block.cross(rearrange(block.norm_cross(ref), "b f s d -> b (f s) d"), kv, c.mask), "b (f s) d -> b f s d", f=3)
        ref = ref + g2 * block.mlp(block.norm2(ref) * (1 + sc2) + s2)
        assert torch.allclose(block(x, cond, rot, kv, c.mask), ref, atol=1e-5)


def test_parameter_names_are_those_of_the_shipped_checkpoint() -> None:
    """Shipped weights, training checkpoints and LoRA targets name these parameters: the layout
    must not change (a fused or renamed layer would need a state-dict conversion)."""
    import json
    from pathlib import Path

    from safetensors import safe_open

    folder = Path(__file__).resolve().parents[2] / "weights" / "kinema-tiny"
    if not (folder / "dit.json").exists():
        pytest.skip("shipped weights not present")
    names: set[str] = set()
    for f in sorted(folder.glob("dit*.safetensors")):
        with safe_open(str(f), "pt") as handle:
            names |= set(handle.keys())
    cfg = json.loads((folder / "dit.json").read_text())["dit"]
    model = DiT(DiTConfig(**{**cfg, "patch": tuple(cfg["patch"])}))
    assert set(model.state_dict()) == names
    assert model.load_state_dict({k: torch.zeros_like(v) for k, v in model.state_dict().items()}, strict=True)


def test_place_features_join_a_trained_model_unchanged_and_then_learn() -> None:
    """Fourier features of each token's place in the frame: zero-initialised, so weights trained
    without them load (complete_state) and compute exactly as before; they get gradients; they
    depend on the fractional place only, so every canvas size shares them."""
    from dataclasses import replace

    from kinema.models.dit import complete_state

    base = trained_like(DiT(TINY)).eval()
    cfg = replace(TINY, position_features=8)
    grown = DiT(cfg)
    grown.load_state_dict(complete_state(base.state_dict(), cfg))
    x, t = torch.randn(1, 4, 3, 8, 12), torch.full((1,), 0.5)
    with torch.no_grad():
        assert torch.equal(grown.eval()(x, t, text(1)), base(x, t, text(1)))
    grown.train()
    grown(x, t, text(1)).square().mean().backward()
    assert grown.position_embed.weight.grad.abs().sum() > 0

    features = grown.place_features(3, 3)
    assert features.shape == (9, 8) and features.abs().max() <= 1.0
    assert torch.allclose(grown.place_features(1, 1)[0], features[4])  # the centre cell of any grid
    assert not torch.allclose(features[3], features[5])  # left and right of the middle row differ
    with pytest.raises(ValueError, match="multiple of 4"):
        DiT(replace(TINY, position_features=6))

    from kinema.models.dit import with_place_features

    again = with_place_features(base, 8).eval()
    with torch.no_grad():
        assert torch.equal(again(x, t, text(1)), base(x, t, text(1)))
    assert with_place_features(again, 8) is again
    with pytest.raises(ValueError, match="already has 8 position features"):
        with_place_features(again, 16)


def test_word_states_join_a_trained_model_unchanged_and_then_learn() -> None:
    """Word states double the text input width; the new input columns start at zero, so weights
    trained on the last layer alone compute exactly as before on its half, learn from the other half,
    and a text of the wrong width is refused with what the model reads."""
    from kinema.models.dit import complete_state, with_word_states

    base = trained_like(DiT(TINY)).eval()
    grown = with_word_states(base).eval()
    assert grown.cfg.word_states and grown.cfg.text_dim == 768 and with_word_states(grown) is grown
    x, t, plain = torch.randn(1, 4, 3, 8, 8), torch.full((1,), 0.5), text(1)
    words = TextContext(torch.cat([plain.tokens, torch.randn_like(plain.tokens)], -1), plain.mask,
                        torch.cat([plain.pooled, torch.randn_like(plain.pooled)], -1))
    with torch.no_grad():
        assert torch.equal(grown(x, t, words), base(x, t, plain))
    state = complete_state(base.state_dict(), grown.cfg)
    assert state["text_proj.0.weight"].shape == (32, 768) and not state["text_proj.0.weight"][:, 384:].any()
    grown.train()
    grown(x, t, words).square().mean().backward()
    assert grown.text_proj[0].weight.grad[:, 384:].abs().sum() > 0
    assert grown.pooled_embed[0].weight.grad[:, 384:].abs().sum() > 0
    with pytest.raises(ValueError, match="text states are 384 wide; this model reads 768"):
        grown(x, t, plain)
