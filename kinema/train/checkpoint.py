"""Checkpoints: full resumable training state, and shipped weights.

A training checkpoint is a folder written atomically (to `NAME.tmp`, then renamed):
  model.safetensors, ema.safetensors   weights (fp32)
  optimizer.safetensors                 AdamW moments, flattened by parameter name
  state.json                            step, configs, optimizer hyper-parameters, data position
  rng.safetensors                       torch and numpy RNG states, so a resumed run continues
                                        the same random stream
A sharded checkpoint (written by DDP/FSDP runs, `kinema.train.distributed`) has the same
state.json (with "format": "dcp" and the world size) and rng.safetensors (rank 0's), but weights,
EMA and optimizer moments in `dcp/`, a torch.distributed.checkpoint folder: every rank writes its
own shards, and any number of processes, including one plain process, reads it back (DCP
reshards on load). Both formats resume in both loops.
Shipped weights are EMA weights in fp16, split into files under 16 MiB, plus `config.json`; a run
can start from them alone (`kinema train --init weights/...`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from kinema.train.distributed import barrier

SHARD_BYTES = 15 * 1024 * 1024  # keep each shipped file under 16 MiB


def _optimizer_tensors(optimizer: torch.optim.Optimizer, names: dict[int, str]) -> dict[str, torch.Tensor]:
    out = {}
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                tensor = value if torch.is_tensor(value) else torch.tensor(value)
                out[f"{names[id(p)]}::{key}"] = tensor.detach().cpu().clone().contiguous()
    return out


def _load_optimizer_tensors(optimizer: torch.optim.Optimizer, names: dict[int, str], tensors: dict[str, torch.Tensor]) -> None:
    # Through the optimizer's own load_state_dict, which puts each value where this optimizer
    # needs it: moments with their parameter, the step counter on the CPU, or on the GPU for
    # fused/capturable AdamW (a CPU step there fails at the first update).
    state_dict = optimizer.state_dict()
    index = 0
    for group in optimizer.param_groups:
        for p in group["params"]:
            prefix = f"{names[id(p)]}::"
            state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            if state:
                state_dict["state"][index] = state
            index += 1
    optimizer.load_state_dict(state_dict)


def rng_state() -> dict[str, torch.Tensor]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": torch.tensor([np_state[2], np_state[3]], dtype=torch.int64),
        "numpy_gauss": torch.tensor([np_state[4]], dtype=torch.float64),
    }


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(state["torch"])
    pos, has_gauss = state["numpy_pos"].tolist()
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, float(state["numpy_gauss"][0])))


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Put the finished folder `tmp` at `path`. The previous checkpoint waits as NAME.old until the
    new one is in place, so a save interrupted at any point never destroys it."""
    old = path.with_name(path.name + ".old")
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def save_training(path: Path, model: nn.Module, ema: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any],
                  extra_tensors: dict[str, torch.Tensor] | None = None) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names = {id(p): n for n, p in model.named_parameters()}
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
    save_file({k: v.detach().cpu().contiguous() for k, v in ema.state_dict().items()}, tmp / "ema.safetensors")
    save_file(_optimizer_tensors(optimizer, names), tmp / "optimizer.safetensors")
    save_file({**rng_state(), **(extra_tensors or {})}, tmp / "rng.safetensors")
    (tmp / "state.json").write_text(json.dumps(state, indent=2))
    _swap_into_place(tmp, path)


def load_training(path: Path, model: nn.Module, ema: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    path = Path(path)
    if not (path / "state.json").exists():
        raise FileNotFoundError(f"no training checkpoint at {path} (expected {path / 'state.json'})")
    model.load_state_dict(load_file(path / "model.safetensors"))
    ema.load_state_dict(load_file(path / "ema.safetensors"))
    names = {id(p): n for n, p in model.named_parameters()}
    _load_optimizer_tensors(optimizer, names, load_file(path / "optimizer.safetensors"))
    rng = load_file(path / "rng.safetensors")
    set_rng_state(rng)
    return json.loads((path / "state.json").read_text()), rng


def is_sharded(path: Path) -> bool:
    return (Path(path) / "dcp" / ".metadata").exists()


def _dcp_state(model: nn.Module, ema: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

    state: dict[str, Any] = {"model": get_model_state_dict(model), "ema": get_model_state_dict(ema)}
    if optimizer is not None:
        state["optim"] = get_optimizer_state_dict(model, optimizer)
    return state


def _distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def save_sharded(path: Path, model: nn.Module, ema: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Every rank writes its shards of weights, EMA and optimizer (a collective: call it on all
    ranks). Written to NAME.tmp and swapped in by rank 0, as `save_training` does; the folder must
    be on a file system all ranks share."""
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    main = not _distributed() or dist.get_rank() == 0
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    dcp.save(_dcp_state(model, ema, optimizer), checkpoint_id=tmp / "dcp", no_dist=not _distributed())
    if main:
        save_file(rng_state(), tmp / "rng.safetensors")
        world = dist.get_world_size() if _distributed() else 1
        (tmp / "state.json").write_text(json.dumps({**state, "format": "dcp", "world_size": world}, indent=2))
        _swap_into_place(tmp, path)
    barrier()


def _dcp_load(tensors: dict[str, Any], path: Path) -> None:
    import warnings

    import torch.distributed.checkpoint as dcp

    with warnings.catch_warnings():  # "assuming the intent is to load in a single process": it is
        warnings.filterwarnings("ignore", message=".*torch.distributed is disabled.*")
        dcp.load(tensors, checkpoint_id=Path(path) / "dcp", no_dist=not _distributed())


def load_sharded(path: Path, model: nn.Module, ema: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    """Read a sharded checkpoint into model, EMA and optimizer, whatever their wrapping (plain,
    DDP, FSDP) and whatever world size wrote it; restores rank 0's RNG; returns state.json."""
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

    path = Path(path)
    if not is_sharded(path):
        raise FileNotFoundError(f"no sharded checkpoint at {path} (expected {path / 'dcp' / '.metadata'})")
    tensors = _dcp_state(model, ema, optimizer)
    _dcp_load(tensors, path)
    set_model_state_dict(model, tensors["model"])
    set_model_state_dict(ema, tensors["ema"])
    if optimizer is not None:
        set_optimizer_state_dict(model, optimizer, tensors["optim"])
    set_rng_state(load_file(path / "rng.safetensors"))
    return json.loads((path / "state.json").read_text())


def load_checkpoint_weights(path: Path, module: nn.Module, which: str = "ema") -> dict[str, Any]:
    """Load the "model" or "ema" weights of a training checkpoint of either format into a plain
    module (e.g. to export or sample from a checkpoint written by 8 GPUs); returns state.json."""
    if which not in ("model", "ema"):
        raise ValueError(f"which {which!r} is not supported; use model or ema")
    path = Path(path)
    if is_sharded(path):
        from torch.distributed.checkpoint.state_dict import get_model_state_dict, set_model_state_dict

        tensors = {which: get_model_state_dict(module)}
        _dcp_load(tensors, path)
        set_model_state_dict(module, tensors[which])
        return json.loads((path / "state.json").read_text())
    if not (path / "state.json").exists():
        raise FileNotFoundError(f"no training checkpoint at {path} (expected {path / 'state.json'})")
    module.load_state_dict(load_file(path / f"{which}.safetensors"))
    return json.loads((path / "state.json").read_text())


def optimizer_state_by_name(optimizer: torch.optim.Optimizer, names: dict[int, str], path: Path) -> dict[str, Any]:
    """A safetensors checkpoint's optimizer moments as a full, name-keyed optimizer state dict
    (torch.distributed.checkpoint.state_dict's layout), so a run started on one process can resume
    under DDP or FSDP. `names` maps id(param) -> canonical name for the optimizer's parameters."""
    tensors = load_file(Path(path) / "optimizer.safetensors")
    state: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, field = key.rsplit("::", 1)
        state.setdefault(name, {})[field] = value
    groups = [{**{k: v for k, v in group.items() if k != "params"}, "params": [names[id(p)] for p in group["params"]]}
              for group in optimizer.param_groups]
    return {"state": state, "param_groups": groups}


def save_weights(folder: Path, name: str, module: nn.Module, config: dict[str, Any] | None = None) -> list[Path]:
    """Ship weights in fp16 shards under 16 MiB: NAME.safetensors or NAME-00001-of-0000N.safetensors."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{name}*.safetensors"):
        old.unlink()
    tensors = {k: (v.half() if v.is_floating_point() else v).cpu().contiguous() for k, v in module.state_dict().items()}
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if size + nbytes > SHARD_BYTES and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][key] = tensor
        size += nbytes
    paths = []
    for i, shard in enumerate(shards):
        filename = f"{name}.safetensors" if len(shards) == 1 else f"{name}-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, folder / filename)
        paths.append(folder / filename)
    if config is not None:
        (folder / f"{name}.json").write_text(json.dumps(config, indent=2))
    return paths


def load_weights(folder: Path, name: str) -> dict[str, torch.Tensor]:
    """Read NAME.safetensors or its shards back as fp32 tensors."""
    folder = Path(folder)
    files = sorted(folder.glob(f"{name}.safetensors")) or sorted(folder.glob(f"{name}-*-of-*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no weights named {name!r} in {folder} (expected {name}.safetensors or its shards)")
    tensors: dict[str, torch.Tensor] = {}
    for f in files:
        tensors.update(load_file(f))
    return {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}


def load_config(folder: Path, name: str) -> dict[str, Any]:
    path = Path(folder) / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no config {path}")
    return json.loads(path.read_text())
