"""int8 sampling on the CPU: the DiT's block matmuls in 8-bit integers.

Contract: `int8_matmuls(dit)` returns a copy of a trained DiT whose attention and MLP layers (the
LoRA targets, `DIT_TARGETS`: ~95% of a step's FLOPs) are PyTorch dynamic-quantised linears:
weights int8 per output channel, activations quantised per call from their own range, products
accumulated in int32 (fbgemm/oneDNN kernels: AVX2 `vpmaddubsw`, AVX-512 VNNI). Embedders, adaLN
modulation and the output layer stay fp32: they are a sliver of the work and the whole output
rides on them. For inference only (no gradients), on the CPU only.

Why it is safe to offer: one guided velocity differs from fp32 by about 10% (relative norm), but
the error is not systematic, and a whole 20-step sample decodes to video within about 37-41 dB
PSNR of the fp32 video of the same seed (a different seed is about 15 dB away);
`kinema bench` measures it on every run beside the speed-up.
"""

from __future__ import annotations

import copy
import fnmatch
import warnings

import torch
from torch import nn

from kinema.models.lora import DIT_TARGETS


def int8_available() -> bool:
    """Whether this PyTorch build has a CPU engine for quantised linears (x86/fbgemm, or qnnpack on Arm)."""
    return bool({"x86", "fbgemm", "onednn", "qnnpack"} & set(torch.backends.quantized.supported_engines))


def int8_matmuls(model: nn.Module, targets: tuple[str, ...] = DIT_TARGETS) -> nn.Module:
    """A copy of `model` with the linear layers whose names match `targets` in int8 (see module doc)."""
    if not int8_available():
        raise ValueError("int8 sampling needs PyTorch's quantised CPU kernels (fbgemm/x86 or qnnpack), "
                         f"which this build lacks (engines: {torch.backends.quantized.supported_engines}); run without --int8")
    if any(p.device.type != "cpu" for p in model.parameters()):
        raise ValueError("int8 sampling runs on the CPU only; on a GPU use --device cuda without --int8")
    from kinema.models.packed import unpack_linears

    model = unpack_linears(copy.deepcopy(model)).eval()  # quantize_dynamic swaps plain nn.Linear only
    names = [name for name, layer in model.named_modules()
             if isinstance(layer, nn.Linear) and any(fnmatch.fnmatchcase(name, t) for t in targets)]
    if not names:
        raise ValueError(f"no linear layer matches the int8 targets {targets}")
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():  # torch.ao's eager quantisation is deprecated in favour of torchao, which we do not ship
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {name: per_channel_dynamic_qconfig for name in names}, dtype=torch.qint8)


def is_int8(model: nn.Module) -> bool:
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return any(isinstance(layer, DynamicLinear) for layer in model.modules())
