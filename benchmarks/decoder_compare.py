"""Paired comparison of VAE decoders on the full KinemaBench suite: only decoding differs.

    python benchmarks/decoder_compare.py weights/kinema-tiny runs/vae-decoder-export [--threads 1]

The shipped DiT's latent for every suite prompt (20 steps, CFG 5, the suite's seeds) is sampled
once and stored (`--latents`, resumable), then decoded by each weights folder's VAE and scored from
pixels (safety layers off: an internal measurement). Prints each decoder's summary and, for every
decoder after the first, the paired difference of per-prompt overall scores with its standard
error, so a decoder change is judged on 320 prompts rather than a noisy subset.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from kinema.diffusion.sample import SamplerConfig
from kinema.eval.bench import run_suite
from kinema.eval.suite import load_suite
from kinema.pipeline import Pipeline, load_vae
from kinema.pixels import tensor_to_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("decoders", nargs="+", help="weights folders whose VAE decodes the latents (the first is the baseline)")
    parser.add_argument("--dit", default="weights/kinema-tiny", help="weights folder of the DiT that samples the latents")
    parser.add_argument("--latents", type=Path, default=Path("runs/suite_latents.pt"), help="where the sampled latents are kept")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    suite = load_suite()
    latents = torch.load(args.latents) if args.latents.exists() else {}
    pipe = Pipeline.from_pretrained(args.dit)
    config = SamplerConfig(steps=20, guidance=5.0)
    started = time.time()
    for i, entry in enumerate(suite.entries):
        if entry.id not in latents:
            latents[entry.id] = pipe.sample_latent(pipe.prompt_states(entry.prompt), entry.size, entry.frames, config, entry.seed)
            if i % 20 == 19:
                args.latents.parent.mkdir(parents=True, exist_ok=True)
                torch.save(latents, args.latents)
                print(f"sampled {i + 1}/{len(suite.entries)} ({time.time() - started:.0f} s)", flush=True)
    args.latents.parent.mkdir(parents=True, exist_ok=True)
    torch.save(latents, args.latents)
    baseline: dict[str, float] = {}
    for folder in args.decoders:
        vae = load_vae(folder)
        with torch.no_grad():
            result = run_suite(suite, lambda e: tensor_to_frames(vae.decode(latents[e.id])[0]))
        scores = {p["id"]: p["overall"] for p in result["per_prompt"]}
        summary = result["summary"]
        line = f"{folder}: overall {summary['overall']:.3f} " + " ".join(
            f"{k} {v:.3f}" for k, v in summary.items() if v is not None and k != "overall")
        if baseline:
            diff = [scores[k] - baseline[k] for k in baseline]
            line += f"\n  paired difference to {args.decoders[0]}: {statistics.mean(diff):+.4f} +- {statistics.stdev(diff) / len(diff) ** 0.5:.4f} (n={len(diff)})"
        else:
            baseline = scores
        print(line, flush=True)


if __name__ == "__main__":
    main()
