"""A training checkpoint's AdamW state comes back where the optimizer needs it.

A fused or capturable AdamW (the GPU recipe builds a fused one) updates only if its step counter
lives on the parameters' device; a counter left on the CPU failed the first step of a resumed GPU
stream run. The meta device stands in for the GPU here: parameters there, the counter must follow.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from kinema.train.checkpoint import load_training, save_training


def _trained(seed: int) -> tuple[nn.Module, nn.Module, torch.optim.AdamW]:
    torch.manual_seed(seed)
    model, ema = nn.Linear(4, 3), nn.Linear(4, 3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 4)).square().mean().backward()
        optimizer.step()
    return model, ema, optimizer


def test_moments_and_step_round_trip_on_the_cpu(tmp_path: Path) -> None:
    model, ema, optimizer = _trained(0)
    save_training(tmp_path / "state", model, ema, optimizer, {"step": 3})
    fresh, fresh_ema, _ = _trained(1)
    again = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    state, _ = load_training(tmp_path / "state", fresh, fresh_ema, again)
    assert state["step"] == 3
    for p, q in zip(model.parameters(), fresh.parameters()):
        saved, loaded = optimizer.state[p], again.state[q]
        assert torch.equal(saved["exp_avg"], loaded["exp_avg"]) and torch.equal(saved["exp_avg_sq"], loaded["exp_avg_sq"])
        assert float(loaded["step"]) == 3.0 and loaded["step"].device.type == "cpu"


def test_capturable_optimizer_gets_its_step_on_the_parameters_device(tmp_path: Path) -> None:
    model, ema, optimizer = _trained(0)
    save_training(tmp_path / "state", model, ema, optimizer, {"step": 3})
    with torch.device("meta"):
        remote, remote_ema = nn.Linear(4, 3), nn.Linear(4, 3)
    remote.load_state_dict = remote_ema.load_state_dict = lambda *a, **k: None  # weights cannot live on meta
    capturable = torch.optim.AdamW(remote.parameters(), lr=1e-2, capturable=True)
    load_training(tmp_path / "state", remote, remote_ema, capturable)
    for p in remote.parameters():
        assert capturable.state[p]["step"].device.type == "meta"  # the old loader left it on the CPU
        assert capturable.state[p]["exp_avg"].device.type == "meta"
