"""A disk cache of VAE latents and text states, so the DiT trains without re-encoding.

On 2 CPU cores, encoding a clip with the VAE and its caption with MiniLM costs about as much as a
DiT training step on it; encoding each clip once and revisiting it for several epochs makes every
core-second count. Shards are safetensors files, one bucket (latent shape) each:

  shard_000123.safetensors   latents (B, C, F, h, w) fp16, tokens (B, L, 384) fp16, mask (B, L),
                             pooled (B, 384) fp16
  shard_000123.json          captions, and the bucket (width, height, frames)

`LatentCache` loads every shard (rescanning picks up shards written since), groups them by latent
shape and samples batches with a token budget, as a pure function of the step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from kinema.models.vae import VideoVAE
from kinema.text.encoder import MAX_TOKENS, TEXT_DIM, TextEncoder
from kinema.train.data import WorldData, world_batch


def build_cache(vae: VideoVAE, encoder: TextEncoder, data: WorldData, out_dir: Path, shards: int,
                progress: bool = True) -> int:
    """Encode world batches into shards; resumes after the last complete shard. Returns shards written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = {int(p.stem.split("_")[1]) for p in out_dir.glob("shard_*.json")}
    todo = [i for i in range(shards) if i not in done]
    iterator = todo
    if progress:
        from rich.progress import track

        iterator = track(todo, description="encoding world clips")
    vae.eval()
    for index in iterator:
        batch = world_batch(index, data)
        with torch.no_grad():
            latents = vae.encode(batch.pixels)
        text = encoder.encode(batch.captions)
        tensors = {
            "latents": latents.half().contiguous(),
            "tokens": text.tokens.half().contiguous(),
            "mask": text.mask.contiguous(),
            "pooled": text.pooled.half().contiguous(),
        }
        path = out_dir / f"shard_{index:06d}"
        save_file(tensors, str(path) + ".safetensors")
        _, _, frames, height, width = batch.pixels.shape
        # The JSON is written last: a shard counts as complete only when its sidecar exists.
        (path.with_suffix(".json")).write_text(json.dumps({"captions": batch.captions, "bucket": [width, height, frames]}))
    return len(todo)


@dataclass
class LatentBatch:
    latents: torch.Tensor  # (B, C, F, h, w) fp32
    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor
    captions: list[str]

    def __len__(self) -> int:
        return self.latents.shape[0]


class LatentCache:
    def __init__(self, folder: Path, token_budget: int = 144 * 16, max_batch: int = 64, patch_tokens: int = 4) -> None:
        self.folder = Path(folder)
        self.token_budget = token_budget
        self.max_batch = max_batch
        self.patch_tokens = patch_tokens  # latent positions per token (2x2 patches)
        self.groups: dict[tuple[int, ...], dict[str, list]] = {}
        self.loaded: set[str] = set()
        self.rescan()

    def rescan(self) -> int:
        """Load shards not seen yet; returns the number of clips available."""
        for sidecar in sorted(self.folder.glob("shard_*.json")):
            if sidecar.stem in self.loaded:
                continue
            tensors = load_file(str(sidecar.with_suffix(".safetensors")))
            captions = json.loads(sidecar.read_text())["captions"]
            key = tuple(tensors["latents"].shape[1:])
            group = self.groups.setdefault(key, {"latents": [], "tokens": [], "mask": [], "pooled": [], "captions": []})
            n, length = tensors["tokens"].shape[:2]
            tokens = torch.zeros(n, MAX_TOKENS, TEXT_DIM, dtype=torch.float16)
            mask = torch.zeros(n, MAX_TOKENS, dtype=torch.bool)
            tokens[:, :length], mask[:, :length] = tensors["tokens"], tensors["mask"]
            for name, value in (("latents", tensors["latents"]), ("tokens", tokens), ("mask", mask), ("pooled", tensors["pooled"])):
                group[name].append(value)
            group["captions"].extend(captions)
            self.loaded.add(sidecar.stem)
        for group in self.groups.values():  # concatenate once per rescan, not per batch
            for name in ("latents", "tokens", "mask", "pooled"):
                if len(group[name]) > 1:
                    group[name] = [torch.cat(group[name])]
        return len(self)

    def __len__(self) -> int:
        return sum(len(g["captions"]) for g in self.groups.values())

    def batch(self, step: int, seed: int = 0) -> LatentBatch:
        if not self.groups:
            raise ValueError(f"the latent cache {self.folder} is empty; build it with `kinema train cache`")
        rng = np.random.default_rng([seed, step])
        keys = sorted(self.groups)
        sizes = np.array([len(self.groups[k]["captions"]) for k in keys], dtype=np.float64)
        key = keys[int(rng.choice(len(keys), p=sizes / sizes.sum()))]
        group = self.groups[key]
        _, frames, h, w = key
        tokens_per_clip = frames * h * w // self.patch_tokens
        size = max(1, min(self.max_batch, self.token_budget // tokens_per_clip, len(group["captions"])))
        index = torch.from_numpy(rng.choice(len(group["captions"]), size=size, replace=False))
        mask = group["mask"][0][index]
        length = int(mask.sum(1).max())
        return LatentBatch(
            group["latents"][0][index].float(),
            group["tokens"][0][index, :length].float(),
            mask[:, :length],
            group["pooled"][0][index].float(),
            [group["captions"][i] for i in index.tolist()],
        )
