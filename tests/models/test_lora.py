"""LoRA on the DiT: zero-init identity, merge == unmerged forward, save/load round trip, strength."""

from pathlib import Path

import pytest
import torch
from torch import nn

from kinema.models.dit import DiT, DiTConfig, TextContext
from kinema.models.lora import (
    LoRAConfig,
    LoRALinear,
    add_lora,
    freeze_base,
    load_lora,
    lora_layers,
    lora_state_dict,
    merge_lora,
    save_lora,
    set_strength,
    unmerge_lora,
)

CFG = DiTConfig(latent_channels=4, width=32, depth=2, heads=2, text_dim=8)


def inputs() -> tuple[torch.Tensor, torch.Tensor, TextContext]:
    g = torch.Generator().manual_seed(0)
    latent = torch.randn(2, 4, 3, 4, 6, generator=g)
    text = TextContext(torch.randn(2, 5, 8, generator=g), torch.ones(2, 5, dtype=torch.bool), torch.randn(2, 8, generator=g))
    return latent, torch.tensor([0.3, 0.8]), text


def base_model() -> DiT:
    torch.manual_seed(0)
    model = DiT(CFG)
    with torch.no_grad():  # a "trained" model: adaLN and output layers away from their zero init
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def trained_adapters(model: nn.Module) -> None:
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_up.weight.normal_(0, 0.2)


def test_zero_init_adapters_leave_the_output_unchanged_and_base_keys_intact() -> None:
    model = base_model()
    latent, t, text = inputs()
    before = model(latent, t, text)
    base_keys = set(model.state_dict())
    names = add_lora(model, LoRAConfig(rank=4))
    assert len(names) == 7 * CFG.depth and "blocks.1.cross.kv" in names
    assert torch.equal(model(latent, t, text), before)
    assert base_keys <= set(model.state_dict())  # base weights load into an adapted model unchanged
    assert set(model.state_dict()) - base_keys == set(lora_state_dict(model))
    assert all(isinstance(m, nn.Linear) for m in lora_layers(model).values())


def test_merge_equals_the_unmerged_forward_and_unmerge_restores_the_base() -> None:
    model = base_model()
    latent, t, text = inputs()
    plain = model(latent, t, text)
    weight = model.blocks[0].attn.qkv.weight.detach().clone()
    add_lora(model, LoRAConfig(rank=4, alpha=8))
    trained_adapters(model)
    adapted = model(latent, t, text)
    assert not torch.allclose(adapted, plain, atol=1e-4)  # the adapters are really in the forward pass
    assert merge_lora(model) == 14
    assert torch.allclose(model(latent, t, text), adapted, atol=1e-5)
    assert not torch.equal(model.blocks[0].attn.qkv.weight, weight)
    unmerge_lora(model)
    assert torch.allclose(model.blocks[0].attn.qkv.weight, weight, atol=1e-6)
    assert torch.allclose(model(latent, t, text), adapted, atol=1e-5)


def test_strength_scales_the_update_linearly() -> None:
    layer = LoRALinear(nn.Linear(6, 5), rank=2, alpha=4)
    nn.init.normal_(layer.lora_up.weight)
    x = torch.randn(3, 6)
    outputs = {}
    for strength in (0.0, 0.5, 1.0):
        layer.strength = strength
        outputs[strength] = layer(x)
    assert torch.allclose(outputs[0.5] - outputs[0.0], 0.5 * (outputs[1.0] - outputs[0.0]), atol=1e-6)
    assert torch.allclose(outputs[1.0] - outputs[0.0], x @ (2.0 * layer.lora_up.weight @ layer.lora_down.weight).T, atol=1e-5)


def test_save_load_round_trip_with_strength_and_merge(tmp_path: Path) -> None:
    model = base_model()
    latent, t, text = inputs()
    config = LoRAConfig(rank=4, alpha=4, targets=("blocks.*.attn.*", "blocks.*.mlp.fc2"))
    add_lora(model, config)
    trained_adapters(model)
    expected = model(latent, t, text)
    path = save_lora(tmp_path / "lora", model, config, {"base": "test", "step": 3})
    assert path.stat().st_size < 100_000

    fresh = base_model()
    loaded = load_lora(fresh, tmp_path / "lora")
    assert loaded == config
    assert torch.allclose(fresh(latent, t, text), expected, atol=1e-6)
    set_strength(fresh, 0.8)
    at_08 = fresh(latent, t, text)

    merged = base_model()
    load_lora(merged, tmp_path / "lora" / "lora.safetensors", strength=0.8, merge=True)
    assert torch.allclose(merged(latent, t, text), at_08, atol=1e-5)
    with pytest.raises(ValueError, match="merged"):
        set_strength(merged, 1.0)


def test_freeze_base_trains_only_adapters() -> None:
    model = base_model()
    add_lora(model, LoRAConfig(rank=2, targets=("blocks.*.attn.qkv",)))
    trainable = freeze_base(model)
    assert trainable == CFG.depth * 2 * (32 + 3 * 32)
    latent, t, text = inputs()
    model(latent, t, text).pow(2).mean().backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads == {n for n in lora_state_dict(model) if n.endswith("lora_down.weight")} | \
        {n for n in lora_state_dict(model) if n.endswith("lora_up.weight")}


def test_bad_configs_and_mismatched_models_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rank 0"):
        LoRAConfig(rank=0)
    with pytest.raises(ValueError, match="match no linear layer; layers are named like"):
        add_lora(base_model(), LoRAConfig(targets=("decoder.*",)))
    model = base_model()
    add_lora(model, LoRAConfig(rank=2))
    save_lora(tmp_path, model, LoRAConfig(rank=2))
    bigger = DiT(DiTConfig(latent_channels=4, width=64, depth=2, heads=2, text_dim=8))
    with pytest.raises(ValueError, match="different model size"):
        load_lora(bigger, tmp_path)
    with pytest.raises(FileNotFoundError, match="no LoRA at"):
        load_lora(base_model(), tmp_path / "missing")
