"""KinemaBench for a sampler setting: the full sampler, the same model with fewer steps, or a
distilled student, on the same suite prompts with the suite's own seeds.

    python benchmarks/distill_score.py --subset ci --steps 4 -o runs/distill/ci_teacher4.json
    python benchmarks/distill_score.py --subset ci --distilled runs/distill/student -o runs/distill/ci_student.json

Writes `kinema eval run`-style results JSON (summary per category, per prompt, generation seconds)
and prints the summary line. Prompts are generated as `kinema eval run` does (no enhancement).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subset", default="ci")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--distilled", default=None, help="a distilled student folder (its steps and guidance)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    from kinema.eval.bench import run_suite
    from kinema.eval.suite import load_suite
    from kinema.pipeline import load_pipeline

    pipe, steps, guidance = load_pipeline(args.weights), args.steps, args.guidance
    if args.distilled:
        from kinema.diffusion.distill import with_distilled

        pipe, steps, guidance = with_distilled(pipe, args.distilled)
    generation: list[float] = []

    def make(entry):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        video = pipe.generate(entry.prompt, size=entry.size, frames=entry.frames, seed=entry.seed, steps=steps, guidance=guidance)
        generation.append(time.perf_counter() - start)
        return video

    label = f"{args.distilled or 'shipped'} {steps} steps cfg {guidance:g}"
    results = run_suite(load_suite("kinemabench-v1", args.subset), make, label=label)
    results["generation_seconds"] = generation
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    summary = results["summary"]
    print(label, " ".join(f"{k} {v:.3f}" for k, v in summary.items() if v is not None))


if __name__ == "__main__":
    main()
