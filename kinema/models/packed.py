"""Packed fp32 linears for CPU sampling: the DiT's block matmuls on oneDNN with pre-packed weights.

Contract: `pack_linears(dit)` swaps, in place, the linear layers whose names match `targets`
(`PACK_TARGETS`: attention and MLP, ~95% of a step's FLOPs, and the adaLN modulation) for
`PackedLinear`s, and fuses the MLP's tanh-GELU into its first matmul; `unpack_linears` undoes it. Parameters, their names and `state_dict` are unchanged, and
so are the results up to fp32 rounding (about 1e-7 relative per matmul). Nothing changes while
gradients are on, in training mode or off the CPU: those calls take the plain `F.linear` path,
so a packed model still trains, fine-tunes and moves to a GPU as before.

Why: PyTorch's eager `F.linear` calls MKL's sgemm, which re-packs the weight on every call, and
runs GELU as a separate pass over the MLP's 4x-wide activations. oneDNN's
`mkldnn._linear_pointwise` with a weight packed once (the kernel torch.compile's CPU backend
uses after freezing) skips the re-pack and applies GELU while the tile is still in registers.
Measured on this 2-core AVX-512 machine at the tiny model's shapes (288 x 256 x 768 and
friends): 10-15% faster plain matmuls, 2x faster matmul + GELU; docs/performance.md has the
step-level figures. The packed weight is a cache, rebuilt whenever the weight is modified in
place (LoRA merge, `load_state_dict`), and never saved or copied.
"""

from __future__ import annotations

import fnmatch

import torch
import torch.nn.functional as F
from torch import nn

from kinema.models.lora import DIT_TARGETS

ACTIVATIONS = ("none", "gelu_tanh")
# The LoRA targets plus the adaLN modulation (few rows, so memory-bound: packing saves ~25% there).
PACK_TARGETS: tuple[str, ...] = (*DIT_TARGETS, "blocks.*.modulation.1", "final.modulation.1")


def packing_available() -> bool:
    """Whether this PyTorch build has oneDNN's packed linear kernels for the CPU."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise") \
        and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")


class _PackedWeight:
    """The packed copy of a weight and the version it was packed from. A oneDNN tensor has no
    storage to copy, so copies of a model (deepcopy, pickle) start with an empty cache."""

    def __init__(self) -> None:
        self.tensor: torch.Tensor | None = None
        self.key: tuple[int, int] | None = None

    def __deepcopy__(self, memo: dict) -> _PackedWeight:
        return _PackedWeight()

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()


class PackedLinear(nn.Linear):
    """`nn.Linear` (same parameters) that runs inference on the CPU through oneDNN with its weight
    packed once, optionally followed by a fused activation (`ACTIVATIONS`)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "none",
                 device: torch.device | str | None = None) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation {activation!r} is not supported; use one of: {', '.join(ACTIVATIONS)}")
        super().__init__(in_features, out_features, bias=bias, device=device)
        self.activation = activation
        self._packed = _PackedWeight()

    @classmethod
    def from_linear(cls, linear: nn.Linear, activation: str = "none") -> PackedLinear:
        """A PackedLinear sharing `linear`'s parameters (no copy)."""
        packed = cls(linear.in_features, linear.out_features, linear.bias is not None, activation, device="meta")
        packed.weight, packed.bias = linear.weight, linear.bias
        return packed.train(linear.training)

    def packed_weight(self) -> torch.Tensor:
        key = (self.weight._version, self.weight.data_ptr())  # in-place edits bump _version; .to()/reassignments move data
        if self._packed.key != key:
            self._packed.tensor = torch.ops.mkldnn._reorder_linear_weight(self.weight.detach(), 256)
            self._packed.key = key
        return self._packed.tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or torch.is_grad_enabled() or x.device.type != "cpu" or x.dtype != torch.float32 \
                or self.weight.dtype != torch.float32:
            y = F.linear(x, self.weight, self.bias)
            return F.gelu(y, approximate="tanh") if self.activation == "gelu_tanh" else y
        bias = None if self.bias is None else self.bias.detach()
        if self.activation == "gelu_tanh":
            return torch.ops.mkldnn._linear_pointwise(x, self.packed_weight(), bias, "gelu", [], "tanh")
        return torch.ops.mkldnn._linear_pointwise(x, self.packed_weight(), bias, "none", [], "")

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, activation={self.activation}, packed=oneDNN"


def pack_linears(model: nn.Module, targets: tuple[str, ...] = PACK_TARGETS) -> nn.Module:
    """Swap `model`'s target linears for `PackedLinear`s in place and return `model` (see module
    doc). An MLP whose `act` is tanh-GELU gets it fused into `fc1` (and `act` becomes Identity)."""
    if not packing_available():
        raise ValueError("packed linears need PyTorch's oneDNN (mkldnn) CPU kernels, which this build lacks")
    from kinema.models.layers import MLP

    names = [name for name, layer in model.named_modules()
             if type(layer) is nn.Linear and any(fnmatch.fnmatchcase(name, t) for t in targets)]
    if not names and not is_packed(model):
        raise ValueError(f"no linear layer matches the packing targets {targets}")
    fused = {f"{name}.fc1" for name, layer in model.named_modules()
             if isinstance(layer, MLP) and isinstance(layer.act, nn.GELU) and layer.act.approximate == "tanh"}
    for name in names:
        activation = "gelu_tanh" if name in fused else "none"
        model.set_submodule(name, PackedLinear.from_linear(model.get_submodule(name), activation))
        if activation == "gelu_tanh":
            model.set_submodule(name.removesuffix("fc1") + "act", nn.Identity())
    return model


def unpack_linears(model: nn.Module) -> nn.Module:
    """Undo `pack_linears` in place (plain `nn.Linear`s sharing the same parameters, GELU back as
    the MLP's `act`) and return `model`: for code that rewrites linears by type (int8, LoRA)."""
    for name, layer in list(model.named_modules()):
        if isinstance(layer, PackedLinear):
            plain = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, device="meta")
            plain.weight, plain.bias = layer.weight, layer.bias
            model.set_submodule(name, plain.train(layer.training))
            if layer.activation == "gelu_tanh":
                model.set_submodule(name.removesuffix("fc1") + "act", nn.GELU(approximate="tanh"))
    return model


def is_packed(model: nn.Module) -> bool:
    return any(isinstance(layer, PackedLinear) for layer in model.modules())
