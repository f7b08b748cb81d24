"""Up to which noise level does a noisy latent still show where its object is?

    python benchmarks/layout_band.py weights/kinema-tiny [--seeds 4] [--frames 1]

A large red square rendered on the left and on the right of a 64x64 image or still clip of
`--frames` frames (`--seeds` placements each) is encoded, noised to x_t = (1 - t) x0 + t noise
(3 noises each) and handed to the DiT with the empty prompt; the red pixels' weighted centre of
its clean prediction x0 = x_t - t v (decoded) is printed per t, as a fraction of the width. While it matches the render's (about 1/6 and 5/6),
x_t itself tells the model where the object is; where both sides drift to the middle, only the
text can: that band of t is where a model must learn to place objects by the prompt, and where
training timesteps must reach (`kinema train dit --high-noise-rate`).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

PROMPT = "A large red square sits still {side}. The background is black and there is no floor. The camera does not move."
TIMES = (0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.96, 0.98, 1.0)


def red_weight_x(frame: np.ndarray) -> float:
    """x of the red-weighted centre (red minus the larger of green and blue), as a fraction of the width."""
    f = frame.astype(float)
    weight = np.clip(f[..., 0] - np.maximum(f[..., 1], f[..., 2]), 0, None).sum(0)
    return float((weight * (np.arange(len(weight)) + 0.5)).sum() / max(weight.sum(), 1e-6) / len(weight))


def band(weights: str, seeds: int, frames: int = 1) -> dict:
    import torch

    from kinema.diffusion.sample import guided_velocity
    from kinema.pipeline import Pipeline
    from kinema.pixels import frames_to_tensor
    from kinema.world.parse import parse_prompt
    from kinema.world.render import render
    from kinema.world.sample import place

    pipe = Pipeline.from_pretrained(weights)
    empty = pipe.text([""])
    velocity = guided_velocity(pipe.dit, empty, empty, 1.0)
    out: dict = {"weights": weights, "frames": frames}
    for side, words in (("left", "on the left"), ("right", "on the right")):
        scenes = [place(parse_prompt(PROMPT.format(side=words), width=64, height=64, frames=frames), seed) for seed in range(seeds)]
        clips = [render(scene).frames for scene in scenes]
        with torch.no_grad():
            latents = [pipe.vae.encode(frames_to_tensor(c)[None]) for c in clips]
        row = {"render": round(float(np.mean([red_weight_x(c.mean(0)) for c in clips])), 3)}
        for t in TIMES:
            xs = []
            for s, x0 in enumerate(latents):
                for k in range(3):
                    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(100 * s + k))
                    x_t = (1 - t) * x0 + t * noise
                    prediction = x_t - t * velocity(x_t, torch.tensor([t]))
                    xs.append(red_weight_x(pipe.decode_frames(prediction).mean(0)))
            row[f"t={t}"] = round(float(np.mean(xs)), 3)
        out[side] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", nargs="+", help="weights folders (dit*, vae*)")
    parser.add_argument("--seeds", type=int, default=4, help="placements per side (default 4)")
    parser.add_argument("--frames", type=int, default=1, help="1 (an image) or a still clip's length, e.g. 33")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds {args.seeds} must be at least 1")
    if args.frames < 1 or (args.frames - 1) % 4:
        parser.error(f"--frames {args.frames} must be 1 + 4k (1, 5, 9, ..., 33)")
    for weights in args.weights:
        print(json.dumps(band(weights, args.seeds, args.frames)))


if __name__ == "__main__":
    main()
