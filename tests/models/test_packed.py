"""Packed fp32 linears (kinema.models.packed): same results as eager up to fp32 rounding, same
parameters, training untouched, the cache follows in-place edits, and undoing it is exact."""

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from kinema.models.dit import DiT, DiTConfig, TextContext
from kinema.models.int8 import int8_available, int8_matmuls, is_int8
from kinema.models.layers import MLP
from kinema.models.packed import PackedLinear, is_packed, pack_linears, packing_available, unpack_linears
from kinema.pipeline import Pipeline

SHIPPED = Path(__file__).resolve().parents[2] / "weights" / "kinema-tiny"
pytestmark = pytest.mark.skipif(not packing_available(), reason="this PyTorch build has no oneDNN")


def small_dit() -> DiT:
    torch.manual_seed(0)
    dit = DiT(DiTConfig(latent_channels=4, width=32, depth=2, heads=2))
    for p in dit.parameters():  # adaLN-Zero starts at zero: give every layer a say in the output
        nn.init.normal_(p, std=0.2)
    return dit.eval()


def inputs(dit: DiT) -> tuple[torch.Tensor, torch.Tensor, TextContext]:
    g = torch.Generator().manual_seed(1)
    text = TextContext(torch.randn(2, 5, dit.cfg.text_dim, generator=g), torch.ones(2, 5, dtype=torch.bool),
                       torch.randn(2, dit.cfg.text_dim, generator=g))
    return torch.randn(2, 4, 3, 4, 4, generator=g), torch.tensor([0.3, 0.7]), text


def test_packed_model_matches_eager_and_keeps_its_parameters() -> None:
    eager = small_dit()
    packed = pack_linears(copy.deepcopy(eager))
    assert is_packed(packed) and not is_packed(eager)
    assert isinstance(packed.blocks[0].mlp.fc1, PackedLinear) and packed.blocks[0].mlp.fc1.activation == "gelu_tanh"
    assert isinstance(packed.blocks[0].mlp.act, nn.Identity)  # GELU now runs inside fc1's kernel
    assert isinstance(packed.blocks[1].modulation[1], PackedLinear) and type(packed.patch_embed) is nn.Linear
    assert list(packed.state_dict()) == list(eager.state_dict())  # checkpoints and LoRA names unchanged
    assert all(torch.equal(a, b) for a, b in zip(packed.state_dict().values(), eager.state_dict().values()))
    x, t, text = inputs(eager)
    with torch.no_grad():
        want, got = eager(x, t, text), packed(x, t, text)
    assert got.abs().max() > 0.1  # a real output, not zeros
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_training_takes_the_eager_path_with_the_same_gradients() -> None:
    eager = small_dit().train()
    packed = pack_linears(copy.deepcopy(eager)).train()
    x, t, text = inputs(eager)
    eager(x, t, text).square().mean().backward()
    packed(x, t, text).square().mean().backward()
    for (name, a), b in zip(eager.named_parameters(), packed.parameters()):
        assert b.grad is not None, name
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-6)


def test_in_place_weight_edits_repack() -> None:
    layer = PackedLinear(8, 6).eval()
    x = torch.randn(3, 8)
    with torch.no_grad():
        before = layer(x)
        layer.weight.mul_(2.0)  # as a LoRA merge or load_state_dict would, in place
        after = layer(x)
        torch.testing.assert_close(after, nn.functional.linear(x, layer.weight, layer.bias))
    assert not torch.allclose(before, after)


def test_copies_unpacking_and_int8_start_from_the_same_weights() -> None:
    packed = pack_linears(small_dit())
    x, t, text = inputs(packed)
    with torch.no_grad():
        ref = packed(x, t, text)
        torch.testing.assert_close(copy.deepcopy(packed)(x, t, text), ref)  # the oneDNN cache is not copied, it is rebuilt
        plain = unpack_linears(copy.deepcopy(packed))
        assert not is_packed(plain) and isinstance(plain.blocks[0].mlp.act, nn.GELU)
        assert all(type(m) is nn.Linear for m in plain.modules() if isinstance(m, nn.Linear))
        torch.testing.assert_close(plain(x, t, text), ref, rtol=1e-4, atol=1e-4)
        if int8_available():
            assert is_int8(int8_matmuls(packed)) and is_packed(packed)  # int8 quantises an unpacked copy


def test_bad_activation_and_missing_targets_are_named() -> None:
    with pytest.raises(ValueError, match="activation 'relu'"):
        PackedLinear(4, 4, activation="relu")
    with pytest.raises(ValueError, match="no linear layer matches"):
        pack_linears(nn.Sequential(MLP(8, 2)), targets=("nothing.*",))


def test_pipeline_samples_packed_by_default() -> None:
    assert is_packed(Pipeline.from_pretrained(SHIPPED).dit)
    assert not is_packed(Pipeline.from_pretrained(SHIPPED, packed=False).dit)


def test_packed_sampling_gives_the_eager_video_with_the_shipped_model() -> None:
    """A whole guided 20-step sample: packed and eager decode to the same pixels (measured ~93 dB
    PSNR, 99.997% of values identical on the default clip), unlike int8 (~37 dB)."""
    import numpy as np

    from kinema.diffusion.sample import SamplerConfig

    torch.set_num_threads(1)
    packed, eager = Pipeline.from_pretrained(SHIPPED), Pipeline.from_pretrained(SHIPPED, packed=False)
    states = eager.prompt_states("A small red circle starts on the left and bounces toward the right. The camera is still.")
    config = SamplerConfig(steps=20, guidance=5.0)
    with torch.no_grad():
        a = packed.decode_frames(packed.sample_latent(states, "64x64", 17, config, seed=3)).astype(np.float64)
        b = eager.decode_frames(eager.sample_latent(states, "64x64", 17, config, seed=3)).astype(np.float64)
    assert a.std() > 5  # a real video, not a flat frame
    assert 10 * np.log10(255.0**2 / max(float(((a - b) ** 2).mean()), 1e-12)) > 60.0
