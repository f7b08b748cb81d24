"""Does the DiT read a word? Its flow loss with each clip's true caption against the caption with
two words swapped (left <-> right, red <-> blue, ...), on the same latents, noise and timesteps.

    python benchmarks/caption_swap.py weights/kinema-tiny [runs/other ...] [--cache runs/cache]
        [--swap left:right --swap up:down --swap red:blue] [--bucket 64x64x1] [--clips 48]

For each swap: cached clips whose caption changes under it (`--clips` of them, of one `--bucket`),
at fixed timesteps from nearly pure noise (where a layout is decided) to nearly clean. A model
that uses the words has a lower loss with the true caption: prints the mean relative increase
(swapped / true - 1) per timestep with its standard error, and over the noisy half (t >= 0.5).
A weights folder, or `online:RUN` for a `kinema train dit` run's online (non-EMA) weights (the
config is read from RUN/../<RUN>-export, or pass --config FOLDER). An increase near zero says the
model ignores the word; the shipped model's were 0.1% for left/right and 5-9% for colors (model
card, Known failures). Cheap: one forward per clip and timestep, about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import torch
from safetensors.torch import load_file

from kinema.diffusion.flow import noise_latents
from kinema.models.dit import DiT, TextContext
from kinema.models.weights import load_dit, load_dit_config
from kinema.text.encoder import default_encoder

TIMESTEPS = (0.98, 0.9, 0.8, 0.65, 0.5, 0.3, 0.1)


def swapped(caption: str, a: str, b: str) -> str:
    """`caption` with the whole words a and b exchanged."""
    return re.sub(rf"\b({re.escape(a)}|{re.escape(b)})\b", lambda m: b if m.group(1) == a else a, caption)


def clips_with(cache: Path, bucket: tuple[int, int, int], a: str, b: str, count: int) -> tuple[torch.Tensor, list[str]]:
    """Up to `count` latents of `bucket` (width, height, frames) whose captions the swap changes."""
    latents, captions = [], []
    for sidecar in sorted(cache.glob("shard_*.json")):
        meta = json.loads(sidecar.read_text())
        if tuple(meta["bucket"]) != bucket:
            continue
        chosen = [i for i, c in enumerate(meta["captions"]) if swapped(c, a, b) != c]
        if chosen:
            tensors = load_file(str(sidecar.with_suffix(".safetensors")))
            latents += [tensors["latents"][i].float() for i in chosen]
            captions += [meta["captions"][i] for i in chosen]
        if len(captions) >= count:
            break
    if not captions:
        raise SystemExit(f"no {bucket} clip in {cache} has {a!r} or {b!r} in its caption")
    return torch.stack(latents[:count]), captions[:count]


def load(weights: str, config: str | None) -> DiT:
    if not weights.startswith("online:"):
        return load_dit(weights)
    run = Path(weights.split(":", 1)[1])
    model = DiT(load_dit_config(config or run.parent / f"{run.name}-export"))
    model.load_state_dict(load_file(str(run / "checkpoint" / "model.safetensors")))
    return model.eval()


@torch.no_grad()
def swap_effect(model: DiT, latents: torch.Tensor, captions: list[str], a: str, b: str) -> dict[float, tuple[float, float]]:
    """Per timestep: (mean, standard error) of the relative loss increase under the swap."""
    encoder = default_encoder(model.cfg.word_states)

    def text(prompts: list[str]) -> TextContext:
        states = encoder.encode(prompts)
        return TextContext(states.tokens, states.mask, states.pooled)

    true, other = text(captions), text([swapped(c, a, b) for c in captions])
    noise = torch.randn(latents.shape, generator=torch.Generator().manual_seed(0))
    target = noise - latents
    out = {}
    for t in TIMESTEPS:
        frames = torch.full(latents.shape[:1] + latents.shape[2:3], t)
        x = noise_latents(latents, noise, frames)
        loss_true = (model(x, frames, true) - target).pow(2).mean(dim=(1, 2, 3, 4))
        loss_swap = (model(x, frames, other) - target).pow(2).mean(dim=(1, 2, 3, 4))
        rel = loss_swap / loss_true - 1
        out[t] = (float(rel.mean()), float(rel.std() / len(rel) ** 0.5))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", nargs="+", help="weights folders, or online:RUN")
    parser.add_argument("--cache", default="runs/cache", help="latent cache (kinema train cache)")
    parser.add_argument("--swap", action="append", help="A:B, two words to exchange (repeatable; default left:right and red:blue)")
    parser.add_argument("--bucket", default="64x64x1", help="WIDTHxHEIGHTxFRAMES of the cached clips to use (default 64x64x1)")
    parser.add_argument("--clips", type=int, default=48, help="clips per swap (default 48)")
    parser.add_argument("--config", help="weights folder whose dit.json describes online:RUN weights")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: as torch chooses)")
    args = parser.parse_args()
    swaps = [s.split(":") for s in (args.swap or ["left:right", "red:blue"])]
    if any(len(s) != 2 or not all(s) for s in swaps):
        parser.error(f"--swap takes A:B, got {args.swap}")
    try:
        bucket = tuple(int(v) for v in args.bucket.split("x"))
        assert len(bucket) == 3
    except (ValueError, AssertionError):
        parser.error(f"--bucket {args.bucket!r} must be WIDTHxHEIGHTxFRAMES, e.g. 64x64x1")
    if args.clips < 2:
        parser.error(f"--clips {args.clips} must be at least 2")
    if args.threads:
        torch.set_num_threads(args.threads)
    for weights in args.weights:
        model = load(weights, args.config)
        for a, b in swaps:
            latents, captions = clips_with(Path(args.cache), bucket, a, b, args.clips)
            effect = swap_effect(model, latents, captions, a, b)
            noisy = [m for t, (m, _) in effect.items() if t >= 0.5]
            print(json.dumps({"weights": weights, "swap": f"{a}:{b}", "clips": len(captions), "bucket": args.bucket,
                              "noisy_half_mean_pct": round(100 * sum(noisy) / len(noisy), 3),
                              "by_t_pct": {str(t): [round(100 * m, 3), round(100 * s, 3)] for t, (m, s) in effect.items()}}))


if __name__ == "__main__":
    main()
