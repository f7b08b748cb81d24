"""A disk cache of VAE latents and text states, so the DiT trains without re-encoding.

On 2 CPU cores, encoding a clip with the VAE and its caption with MiniLM costs about as much as a
DiT training step on it; encoding each clip once and revisiting it for several epochs makes every
core-second count. Shards are safetensors files, one bucket (latent shape) each:

  shard_000123.safetensors   latents (B, C, F, h, w) fp16, tokens (B, L, 384) fp16, mask (B, L),
                             pooled (B, 384) fp16
  shard_000123.json          captions, and the bucket (width, height, frames)

`LatentCache` loads every shard (rescanning picks up shards written since), groups them by latent
shape and samples batches with a token budget, as a pure function of the step (and of the rank:
with `world_size` > 1, rank r draws only clips r, r + world_size, ... of each bucket).

Two writers share the format: `build_cache` encodes procedural world batches (`shard_000123`);
`build_video_cache` encodes a scanned video folder (kinema.train.video_data) into shards named by
bucket (`shard_112x64x17_00003`), whose sidecars also list the source files and crop starts. The
video cache's plan (which clips go into which shard) is fixed in `cache.json` on the first run, so
a rerun skips finished shards and resumes exactly; files that fail to decode are logged, listed in
`skipped.jsonl` and left out.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from kinema.models.vae import VideoVAE
from kinema.text.encoder import MAX_TOKENS, TEXT_DIM, TextEncoder
from kinema.train.data import WorldData, world_batch

log = logging.getLogger("kinema.data")


def build_cache(vae: VideoVAE, encoder: TextEncoder, data: WorldData, out_dir: Path, shards: int,
                progress: bool = True) -> int:
    """Encode world batches into shards; resumes after the last complete shard. Returns shards written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = {int(p.stem.split("_")[1]) for p in out_dir.glob("shard_*.json") if p.stem.split("_")[1].isdigit()}
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
        _, _, frames, height, width = batch.pixels.shape
        write_shard(out_dir / f"shard_{index:06d}", latents, text, {"captions": batch.captions, "bucket": [width, height, frames]})
    return len(todo)


def write_shard(path: Path, latents: torch.Tensor, text: Any, sidecar: dict[str, Any]) -> None:
    """One shard: tensors first, the JSON sidecar last (a shard counts as complete only when its
    sidecar exists, so an interrupted write is redone)."""
    tensors = {
        "latents": latents.half().contiguous(),
        "tokens": text.tokens.half().contiguous(),
        "mask": text.mask.contiguous(),
        "pooled": text.pooled.half().contiguous(),
    }
    save_file(tensors, str(path) + ".safetensors")
    Path(str(path) + ".json").write_text(json.dumps(sidecar))


def _video_plan(clips: list, crops: int, shard_clips: int) -> list[dict[str, Any]]:
    """Shards of one bucket each: clips sorted by path, `crops` random crops each, `shard_clips` a shard."""
    by_bucket: dict[Any, list[tuple[str, int]]] = {}
    for clip in clips:
        for crop in range(crops):
            by_bucket.setdefault(clip.bucket, []).append((str(clip.item.path), crop))
    plan = []
    for bucket in sorted(by_bucket):
        keys = sorted(by_bucket[bucket])
        for k, start in enumerate(range(0, len(keys), shard_clips)):
            plan.append({"name": f"shard_{bucket.name}_{k:05d}", "clips": [list(key) for key in keys[start : start + shard_clips]]})
    return plan


def build_video_cache(vae: VideoVAE, encoder: TextEncoder, source: Path, out_dir: Path, config: Any = None,
                      crops: int = 1, shard_clips: int = 16, workers: int = 2, progress: bool = True) -> dict[str, int]:
    """Encode the usable clips of a video folder or manifest into bucket shards; resumable.

    `config` is a kinema.train.video_data.VideoDataConfig (default one if None); `crops` random
    temporal crops are cached per video. Returns counts: shards written, already done, clips
    encoded, clips skipped (at scan or decode time). A finished cache returns at once, without
    probing the videos again; videos added to the source since the cache was planned are only
    named in a warning (build a new cache to include them)."""
    from kinema.train.video_data import SkipLog, VideoClips, VideoDataConfig, collate_clips, find_videos, scan

    config = config or VideoDataConfig()
    if crops < 1 or shard_clips < 1:
        raise ValueError(f"crops ({crops}) and shard_clips ({shard_clips}) must be at least 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    options = {"source": str(Path(source).resolve()), "data": asdict(config), "crops": crops, "shard_clips": shard_clips}
    manifest_path = out_dir / "cache.json"
    skipped_log = out_dir / "skipped.jsonl"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if manifest is not None:
        if manifest["options"] != options:
            raise ValueError(f"{out_dir} was built with other options ({manifest['options']}); "
                             "rerun with the same options to resume, or use a new cache folder (kinema data cache -o, kinema finetune --run)")
        records = _skip_records(out_dir)
        done = _done_shards(out_dir, records)
        if all(shard["name"] in done for shard in manifest["plan"]):
            if "listed" in manifest:  # names only: listing a folder probes no video
                _warn_unplanned(len({str(item.path) for item in find_videos(source)[0]} - set(manifest["listed"])), out_dir)
            decode_skips = sum("path" in record for record in records)
            return {"shards_written": 0, "shards_done_before": len(manifest["plan"]), "clips_encoded": 0,
                    "clips_skipped": manifest.get("scan_skipped", 0) + decode_skips}
    result = scan(source, config, progress=progress)
    skips = SkipLog()
    skips.counts.update(result.skip_counts())
    if manifest is not None:
        plan = manifest["plan"]
        planned = {path for shard in plan for path, _ in shard["clips"]}
        _warn_unplanned(sum(str(c.item.path) not in planned for c in result.clips), out_dir)
    else:
        plan = _video_plan(result.clips, crops, shard_clips)
        listed = sorted(str(item.path) for item in find_videos(source)[0])
        manifest_path.write_text(json.dumps({"options": options, "plan": plan, "scan_skipped": sum(skips.counts.values()),
                                             "listed": listed}, indent=1))
    done = _done_shards(out_dir, _skip_records(out_dir))
    todo = [shard for shard in plan if shard["name"] not in done]
    clips = {str(c.item.path): i for i, c in enumerate(result.clips)}
    keys_of = []
    for shard in todo:  # a planned file that no longer scans is skipped (it was counted by the scan)
        keys_of.append([(clips[path], crop) for path, crop in shard["clips"] if path in clips])
    dataset = VideoClips(result.clips, config)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=keys_of, num_workers=workers if todo else 0,
                                         collate_fn=collate_clips)
    bar = None
    if progress and todo:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]caching"), BarColumn(), MofNCompleteColumn(), TextColumn("shards"), TimeRemainingColumn())
        bar.start()
        task = bar.add_task("caching", total=len(plan), completed=len(plan) - len(todo))
    vae.eval()
    encoded = 0
    try:
        for shard, batch in zip(todo, loader):
            skips.add(batch.skipped)
            with skipped_log.open("a") as handle:
                for skip in batch.skipped:
                    handle.write(json.dumps({"path": str(skip.path), "reason": skip.reason, "detail": skip.detail}) + "\n")
                if not len(batch):
                    handle.write(json.dumps({"empty_shard": shard["name"]}) + "\n")
            if len(batch):
                with torch.no_grad():  # a few clips at a time: big buckets are memory-hungry on a CPU
                    latents = torch.cat([vae.encode(part) for part in batch.pixels.split(4)])
                _, _, frames, height, width = batch.pixels.shape
                sidecar = {"captions": batch.captions, "bucket": [width, height, frames],
                           "sources": [str(p) for p in batch.paths], "starts": batch.starts}
                write_shard(out_dir / shard["name"], latents, encoder.encode(batch.captions), sidecar)
                encoded += len(batch)
            if bar is not None:
                bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    return {"shards_written": len(todo), "shards_done_before": len(plan) - len(todo), "clips_encoded": encoded,
            "clips_skipped": sum(skips.counts.values())}


def _skip_records(out_dir: Path) -> list[dict[str, Any]]:
    """The cache's skipped.jsonl: clips skipped at decode time ("path") and empty shards ("empty_shard")."""
    skipped_log = out_dir / "skipped.jsonl"
    if not skipped_log.exists():
        return []
    return [json.loads(line) for line in skipped_log.read_text().splitlines() if line.strip()]


def _done_shards(out_dir: Path, records: list[dict[str, Any]]) -> set[str]:
    """Shards of a video cache already written, or found empty (all their clips skipped)."""
    empty = {record["empty_shard"] for record in records if "empty_shard" in record}
    return {p.stem for p in out_dir.glob("shard_*.json")} | empty


def _warn_unplanned(count: int, out_dir: Path) -> None:
    if count:
        log.warning(f"{count} videos are not in the plan of {out_dir} (added after it was started); build a new cache to include them")


def _with_input_layer(tensors: dict[str, torch.Tensor], captions: list[str], sidecar: Path) -> dict[str, torch.Tensor]:
    """A shard's tensors with MiniLM's input-layer states beside its last-layer ones (word states)."""
    from kinema.text.encoder import default_encoder

    if tensors["tokens"].shape[-1] != TEXT_DIM:
        return tensors  # written with word states already
    words = default_encoder(word_states=True).input_layer(captions)  # the instance a word-states trainer already holds
    length = tensors["mask"].shape[1]
    if words.mask.shape[1] > length or not torch.equal(words.mask, tensors["mask"][:, : words.mask.shape[1]]):
        raise ValueError(f"{sidecar}: its captions tokenize differently from its text states; rebuild the cache with this MiniLM")
    padded = torch.zeros(len(captions), length, TEXT_DIM)
    padded[:, : words.tokens.shape[1]] = words.tokens
    return {**tensors, "tokens": torch.cat([tensors["tokens"].float(), padded], -1).half(),
            "pooled": torch.cat([tensors["pooled"].float(), words.pooled], -1).half()}


@dataclass
class LatentBatch:
    latents: torch.Tensor  # (B, C, F, h, w) fp32
    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor
    captions: list[str]

    def __len__(self) -> int:
        return self.latents.shape[0]


def pick_shape(counts: dict[tuple[int, ...], int], rng: np.random.Generator, image_share: float | None = None) -> tuple[int, ...]:
    """The latent shape (C, F, h, w) of the next batch, from how many clips each shape holds.

    `image_share` None: every shape in proportion to its clips (a world cache holds far more images
    than clips, so most batches are images). A number: single images with that probability (when
    there are both images and videos), else a video shape in proportion to its clips, as the GPU
    recipe (`kinema train stream`) trains: joint image-video training with a set share."""
    keys = sorted(k for k, n in counts.items() if n)
    if not keys:
        raise ValueError("there are no clips to draw a batch from")
    if image_share is not None:
        images, videos = [k for k in keys if k[1] == 1], [k for k in keys if k[1] > 1]
        keys = images if images and (not videos or rng.random() < image_share) else videos
    sizes = np.array([counts[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=sizes / sizes.sum()))]


class LatentCache:
    """`word_states`: give each clip's text the input layer's states beside the last layer's the
    shards hold (computed from the captions at load: an embedding lookup), for a DiT that reads them.
    `image_share`: how batches split between images and videos (`pick_shape`)."""

    def __init__(self, folder: Path, token_budget: int = 144 * 16, max_batch: int = 64, patch_tokens: int = 4,
                 word_states: bool = False, image_share: float | None = None) -> None:
        if image_share is not None and not 0 <= image_share <= 1:
            raise ValueError(f"image_share {image_share} must be in [0, 1] (or None: in proportion to the clips)")
        self.folder = Path(folder)
        self.word_states = word_states
        self.image_share = image_share
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
            if self.word_states:
                tensors = _with_input_layer(tensors, captions, sidecar)
            n, length, dim = tensors["tokens"].shape
            tokens = torch.zeros(n, MAX_TOKENS, dim, dtype=torch.float16)
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
        """The global batch of `step`: one bucket (`pick_shape`), sized by the token budget.
        Data-parallel runs draw this same batch on every process and each trains on its own rows of
        it (`kinema.train.runner`), so the curve does not depend on the process count."""
        if not self.groups:
            raise ValueError(f"the latent cache {self.folder} is empty; build it with `kinema train cache` or `kinema data cache`")
        rng = np.random.default_rng([seed, step])
        key = pick_shape({k: len(g["captions"]) for k, g in self.groups.items()}, rng, self.image_share)
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
