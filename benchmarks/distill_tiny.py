"""Distil the shipped DiT into a few-step sampler (piecewise reflow, kinema.diffusion.distill).

    nice -n 19 python benchmarks/distill_tiny.py --out runs/distill --records 12 --train-steps 300 --threads 1

Two resumable stages under --out:
1. teacher/NNNN.pt: batches of world prompts (detailed captions of scenes sampled from the world,
   never KinemaBench prompts) in the canvases KinemaBench's ci subset uses, each with its noise
   and the full sampler's states at the student's window bounds (guided, 20 Euler steps);
2. student/: the student after --train-steps AdamW steps on the window chords (dit.json +
   dit.safetensors, usable with `kinema generate --distilled`), a checkpoint every 50 steps, and
   train.jsonl with the loss per step.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch

from kinema.diffusion.distill import (
    DistillConfig,
    DistilledMeta,
    distill_loss,
    repeat_text,
    save_distilled,
    schedule_for,
    teacher_states,
    window_targets,
)
from kinema.diffusion.flow import resolution_shift
from kinema.diffusion.sample import guided_velocity
from kinema.models.dit import TextContext
from kinema.models.vae import SPATIAL, latent_frames

# (width, height, frames, weight): the ci subset's canvases, weighted toward its 17-frame clips
# and the default 33-frame clip.
BUCKETS = ((64, 64, 17, 3), (96, 64, 17, 3), (64, 96, 17, 3), (64, 64, 33, 3), (96, 64, 33, 1), (64, 96, 33, 1), (64, 64, 1, 1))


def make_teacher_record(pipe, cfg: DistillConfig, index: int, seed: int) -> dict:  # type: ignore[no-untyped-def]
    from kinema.world.caption import detailed_caption, short_caption
    from kinema.world.sample import sample_scene

    rng = np.random.default_rng([seed, index])
    weights = np.array([b[3] for b in BUCKETS], dtype=np.float64)
    width, height, frames, _ = BUCKETS[int(rng.choice(len(BUCKETS), p=weights / weights.sum()))]
    prompts = []
    for _ in range(cfg.batch):
        scene = sample_scene(rng, "medium", width=width, height=height, frames=frames)
        prompts.append(short_caption(scene, rng) if rng.random() < 0.2 else detailed_caption(scene, rng))
    text, empty = pipe.text(prompts), pipe.text([""])
    shape = (cfg.batch, pipe.vae.cfg.latent_channels, latent_frames(frames), height // SPATIAL, width // SPATIAL)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(int(rng.integers(2**31))))
    bounds = schedule_for(shape, pipe.dit.cfg.patch, cfg.steps)  # the pipeline's schedule for this grid
    pt, ph, pw = pipe.dit.cfg.patch
    shift = resolution_shift((shape[2] // pt) * (shape[3] // ph) * (shape[4] // pw))
    with torch.no_grad():
        velocity = guided_velocity(pipe.dit, text, repeat_text(empty, cfg.batch), cfg.teacher_guidance)
        states = teacher_states(velocity, noise, cfg.steps, cfg.teacher_steps, shift)
    return {"prompts": prompts, "size": (width, height, frames), "states": states, "bounds": bounds,
            "text": (text.tokens, text.mask, text.pooled), "empty": (empty.tokens, empty.mask, empty.pooled)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/distill"))
    parser.add_argument("--weights", default=None)
    parser.add_argument("--records", type=int, default=32, help="teacher batches (each --batch prompts)")
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--steps", type=int, default=4, help="student steps")
    parser.add_argument("--student-guidance", type=float, default=5.0, help="5: keep CFG; 1: bake it in")
    parser.add_argument("--lr", type=float, default=1e-4, help="1e-4 fits; 2e-5 and 5e-6 moved away in 300 steps (docs/performance.md)")
    parser.add_argument("--batch", type=int, default=4, help="prompts per teacher record")
    parser.add_argument("--train-batch", type=int, default=2, help="examples per training step (drawn from one record)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from kinema.pipeline import Pipeline

    cfg = DistillConfig(steps=args.steps, student_guidance=args.student_guidance, lr=args.lr, batch=args.batch)
    pipe = Pipeline.from_pretrained(args.weights)
    teacher_dir = args.out / "teacher"
    teacher_dir.mkdir(parents=True, exist_ok=True)
    log = (args.out / "log.txt").open("a")

    def say(message: str) -> None:
        log.write(f"{time.strftime('%H:%M:%S')} {message}\n")
        log.flush()

    for index in range(args.records):
        path = teacher_dir / f"{index:04d}.pt"
        if path.exists():
            continue
        start = time.perf_counter()
        record = make_teacher_record(pipe, cfg, index, args.seed)
        torch.save(record, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").rename(path)
        say(f"teacher {index + 1}/{args.records} {record['size']} in {time.perf_counter() - start:.1f} s")
    records = [torch.load(p) for p in sorted(teacher_dir.glob("*.pt"))[: args.records]]

    student = copy.deepcopy(pipe.dit).train()
    optimizer = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=0.0)
    rng = np.random.default_rng(args.seed)
    student_dir = args.out / "student"
    history = (args.out / "train.jsonl").open("a")
    for step in range(1, args.train_steps + 1):
        record = records[int(rng.integers(len(records)))]
        pick = torch.from_numpy(rng.choice(record["states"].shape[1], min(args.train_batch, record["states"].shape[1]), replace=False))
        b = len(pick)
        window = torch.from_numpy(rng.integers(0, cfg.steps, b))
        fraction = torch.from_numpy(rng.random(b)).float()
        x_t, t, target = window_targets(record["states"][:, pick], record["bounds"], window, fraction)
        text = TextContext(*(part[pick] for part in record["text"]))
        empty = TextContext(*record["empty"])
        loss = distill_loss(student, text, empty, cfg.student_guidance, x_t, t, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        history.write(json.dumps({"step": step, "loss": loss.item(), "size": list(record["size"])}) + "\n")
        history.flush()
        if step % 50 == 0 or step == args.train_steps:
            meta = DistilledMeta(cfg.steps, cfg.student_guidance, cfg.teacher_steps, cfg.teacher_guidance, step)
            save_distilled(student_dir, student.eval(), meta)
            student.train()
            say(f"student step {step}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
