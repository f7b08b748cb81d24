"""Reconstruction quality of the shipped VAE on held-out world clips, per canvas size.

    python benchmarks/vae_reconstruction.py [--weights weights/kinema-tiny] [--clips 8]

For each served canvas (33 frames, the "full" world distribution, a data seed never used in
training) prints the mean PSNR of decode(encode(clip)) and KinemaBench's color and shape scores of
the reconstructions beside those of the original renders (do palette colors survive the latent?).
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch

from kinema.eval import score_video
from kinema.pipeline import load_vae, weights_dir
from kinema.pixels import frames_to_tensor, tensor_to_frames
from kinema.world import render, sample_scene

SIZES = ((64, 64), (96, 64), (64, 96), (112, 64))
HELD_OUT_SEED = 424242


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=33)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    vae = load_vae(args.weights or weights_dir())
    print(f"{'canvas':8s} {'PSNR dB':>8s} {'color rec/ref':>14s} {'shape rec/ref':>14s}")
    for width, height in SIZES:
        rng = np.random.default_rng([HELD_OUT_SEED, width, height])
        psnrs, color, shape = [], [[], []], [[], []]
        for _ in range(args.clips):
            scene = sample_scene(rng, "full", width=width, height=height, frames=args.frames)
            frames = render(scene).frames
            with torch.no_grad():
                recon = tensor_to_frames(vae.decode(vae.encode(frames_to_tensor(frames)[None]))[0])
            mse = np.mean((recon.astype(np.float64) - frames) ** 2)
            psnrs.append(10 * np.log10(255.0**2 / max(mse, 1e-10)))
            for k, video in enumerate((recon, frames)):
                cats = score_video(video, scene, fps=scene.fps).categories
                for store, name in ((color, "color"), (shape, "shape")):
                    if cats.get(name) is not None:
                        store[k].append(cats[name])
        mean = lambda xs: statistics.mean(xs) if xs else float("nan")  # noqa: E731
        print(f"{width}x{height:<5d} {mean(psnrs):8.2f} {mean(color[0]):7.3f}/{mean(color[1]):.3f} {mean(shape[0]):7.3f}/{mean(shape[1]):.3f}")


if __name__ == "__main__":
    main()
