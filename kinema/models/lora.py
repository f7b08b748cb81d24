"""LoRA: low-rank adapters on chosen linear layers of any built model, from outside the model.

    y = W x + b + scale * up(down(x)),   scale = strength * alpha / rank

`down` (rank x in) starts random, `up` (out x rank) starts at zero, so an adapted model computes
exactly what the base model does until training moves `up` (Hu et al. 2021).

Contract:
- `add_lora(model, LoRAConfig(...))` replaces every `nn.Linear` whose qualified name matches one of
  the config's `targets` (fnmatch patterns, e.g. "blocks.*.attn.qkv") with a `LoRALinear` that
  shares the original weight and bias Parameters, so the base keys of the state dict are unchanged
  and base weights load into an adapted model as before. Returns the adapted names; raises
  ValueError when nothing matches. `freeze_base(model)` leaves only adapter weights trainable.
- `lora_state_dict(model)` holds only adapter tensors (`NAME.lora_down.weight`, `NAME.lora_up.weight`);
  `save_lora` writes them as `lora.safetensors` plus `lora.json` (rank, alpha, targets, and what
  the caller adds: base model, step); `load_lora(model, folder, strength)` adds the adapters and
  loads them; `merge_lora(model)` folds them into the base weights (no extra cost at generation),
  `unmerge_lora(model)` takes them out again; `set_strength` rescales live adapters.
- The model must call its linear layers as modules (`self.qkv(x)`), as Kinema's DiT does.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# The DiT's attention (self and cross: q, k, v, out) and MLP layers of every block.
DIT_TARGETS: tuple[str, ...] = (
    "blocks.*.attn.qkv", "blocks.*.attn.out",
    "blocks.*.cross.q", "blocks.*.cross.kv", "blocks.*.cross.out",
    "blocks.*.mlp.fc1", "blocks.*.mlp.fc2",
)
WEIGHTS_FILE, CONFIG_FILE = "lora.safetensors", "lora.json"


@dataclass(frozen=True)
class LoRAConfig:
    rank: int = 8  # adapter width: 4-16 covers most fine-tunes; more is closer to full fine-tuning
    alpha: float = 8.0  # scale = alpha / rank: keeps the learning rate meaningful across ranks
    targets: tuple[str, ...] = DIT_TARGETS  # fnmatch patterns over module names

    def __post_init__(self) -> None:
        if not isinstance(self.rank, int) or self.rank < 1:
            raise ValueError(f"LoRA rank {self.rank!r} must be a positive integer (e.g. 4, 8, 16)")
        if not self.alpha > 0:
            raise ValueError(f"LoRA alpha {self.alpha!r} must be > 0")
        if not self.targets:
            raise ValueError("LoRA targets must name at least one layer pattern")


class LoRALinear(nn.Linear):
    """A linear layer with a low-rank adapter; `weight` and `bias` are the base layer's Parameters."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, strength: float = 1.0) -> None:
        nn.Module.__init__(self)  # not nn.Linear.__init__: reuse the base Parameters, allocate nothing
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight = base.weight
        self.bias = base.bias
        self.rank, self.alpha, self.strength = rank, alpha, strength
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_down = nn.Linear(base.in_features, rank, bias=False, **factory)
        self.lora_up = nn.Linear(rank, base.out_features, bias=False, **factory)
        nn.init.kaiming_uniform_(self.lora_down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_up.weight)
        self.merged = False

    @property
    def scale(self) -> float:
        return self.strength * self.alpha / self.rank

    def delta(self) -> torch.Tensor:
        """The adapter as a weight update (out, in)."""
        return self.scale * (self.lora_up.weight @ self.lora_down.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        if self.merged or self.strength == 0:
            return y
        return y + self.scale * self.lora_up(self.lora_down(x))

    @torch.no_grad()
    def merge(self) -> None:
        if not self.merged:
            self.weight += self.delta().to(self.weight.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if self.merged:
            self.weight -= self.delta().to(self.weight.dtype)
            self.merged = False

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, rank={self.rank}, alpha={self.alpha}, strength={self.strength}"


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def add_lora(model: nn.Module, config: LoRAConfig = LoRAConfig(), strength: float = 1.0) -> list[str]:
    """Adapt every nn.Linear of `model` whose name matches a target; returns the adapted names."""
    matches = [name for name, m in model.named_modules()
               if type(m) is nn.Linear and any(fnmatch.fnmatchcase(name, p) for p in config.targets)]
    if not matches:
        linear = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)][:6]
        raise ValueError(f"LoRA targets {list(config.targets)} match no linear layer; layers are named like: {', '.join(linear)}")
    for name in matches:
        model.set_submodule(name, LoRALinear(model.get_submodule(name), config.rank, config.alpha, strength))
    return matches


def freeze_base(model: nn.Module) -> int:
    """Train only the adapters; returns the number of trainable parameters."""
    trainable = 0
    for name, p in model.named_parameters():
        p.requires_grad_(".lora_down." in name or ".lora_up." in name)
        trainable += p.numel() if p.requires_grad else 0
    return trainable


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if ".lora_down." in k or ".lora_up." in k}


def set_strength(model: nn.Module, strength: float) -> None:
    """Rescale every live (unmerged) adapter; merged ones must be unmerged first."""
    for name, layer in lora_layers(model).items():
        if layer.merged:
            raise ValueError(f"LoRA layer {name} is merged; unmerge_lora(model) before changing its strength")
        layer.strength = strength


def merge_lora(model: nn.Module) -> int:
    layers = lora_layers(model)
    for layer in layers.values():
        layer.merge()
    return len(layers)


def unmerge_lora(model: nn.Module) -> int:
    layers = lora_layers(model)
    for layer in layers.values():
        layer.unmerge()
    return len(layers)


def save_lora(folder: Path | str, model: nn.Module, config: LoRAConfig, extra: dict[str, Any] | None = None) -> Path:
    """Write the adapters only (fp32 safetensors: 1.5 MB at rank 8 on the tiny DiT) and their config."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().float().cpu().contiguous() for k, v in lora_state_dict(model).items()}
    if not tensors:
        raise ValueError("the model has no LoRA adapters to save; call add_lora first")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / WEIGHTS_FILE))
    record = {"lora": {**asdict(config), "targets": list(config.targets)}, **(extra or {})}
    (folder / CONFIG_FILE).write_text(json.dumps(record, indent=2))
    return folder / WEIGHTS_FILE


def read_lora(path: Path | str) -> tuple[LoRAConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """(config, adapter tensors, the whole lora.json) of a LoRA folder (or its lora.safetensors)."""
    from safetensors.torch import load_file

    path = Path(path)
    folder = path.parent if path.suffix == ".safetensors" else path
    if not (folder / WEIGHTS_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"no LoRA at {path}: expected {folder / WEIGHTS_FILE} and {folder / CONFIG_FILE}")
    record = json.loads((folder / CONFIG_FILE).read_text())
    raw = record["lora"]
    config = LoRAConfig(rank=int(raw["rank"]), alpha=float(raw["alpha"]), targets=tuple(raw["targets"]))
    return config, load_file(str(folder / WEIGHTS_FILE)), record


def load_lora(model: nn.Module, path: Path | str, strength: float = 1.0, merge: bool = False) -> LoRAConfig:
    """Add the adapters saved at `path` to `model` at `strength` (0: off, 1: as trained) and load
    them; `merge` folds them into the weights. Raises ValueError when they do not fit the model."""
    config, tensors, _ = read_lora(path)
    add_lora(model, config, strength)
    expected = set(lora_state_dict(model))
    if set(tensors) != expected:
        missing, unexpected = sorted(expected - set(tensors))[:3], sorted(set(tensors) - expected)[:3]
        raise ValueError(f"LoRA at {path} does not fit this model (missing {missing}, unexpected {unexpected})")
    for name, tensor in tensors.items():
        target = model.get_parameter(name)
        if target.shape != tensor.shape:
            raise ValueError(f"LoRA at {path}: {name} has shape {tuple(tensor.shape)}, the model needs {tuple(target.shape)}; "
                             "it was trained for a different model size")
        with torch.no_grad():
            target.copy_(tensor)
    if merge:
        merge_lora(model)
    return config
