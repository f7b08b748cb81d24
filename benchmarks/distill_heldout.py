"""How close a distilled student's few steps come to the full sampler, on held-out prompts/noise.

    python benchmarks/distill_heldout.py --distilled runs/distill/student --records 2

For new world prompts (a seed the distillation never used) in the ci canvases, integrates the
teacher's full sampler (20 steps, guidance 5) and reports the mean squared distance to its output
of (a) the teacher itself with the student's K steps (no distillation) and (b) the student's K
steps. (b) < (a) means distillation moved the few-step sampler toward the full one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from distill_tiny import make_teacher_record  # noqa: E402

from kinema.diffusion.distill import DistillConfig, load_distilled, repeat_text  # noqa: E402
from kinema.diffusion.sample import guided_velocity, sample  # noqa: E402
from kinema.models.dit import TextContext  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--distilled", type=Path, required=True)
    parser.add_argument("--records", type=int, default=2)
    parser.add_argument("--seed", type=int, default=98765)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from kinema.pipeline import Pipeline

    pipe = Pipeline.from_pretrained()
    student, meta = load_distilled(args.distilled)
    cfg = DistillConfig(steps=meta.steps, teacher_steps=meta.teacher_steps, teacher_guidance=meta.teacher_guidance)
    few_teacher, few_student = [], []
    for index in range(args.records):
        record = make_teacher_record(pipe, cfg, index, args.seed)
        states, bounds = record["states"], record["bounds"]
        text, empty = TextContext(*record["text"]), TextContext(*record["empty"])
        target = states[-1]
        b = states.shape[1]
        with torch.no_grad():
            teacher_k = sample(guided_velocity(pipe.dit, text, repeat_text(empty, b), meta.teacher_guidance), states[0], bounds)
            student_k = sample(guided_velocity(student, text, repeat_text(empty, b), meta.guidance), states[0], bounds)
        few_teacher.append((teacher_k - target).pow(2).mean().item())
        few_student.append((student_k - target).pow(2).mean().item())
        print(f"record {index} {record['size']}: teacher {meta.steps} steps {few_teacher[-1]:.4f}, student {few_student[-1]:.4f}")
    print(f"mean squared distance to the 20-step sampler: teacher {meta.steps} steps {sum(few_teacher) / len(few_teacher):.4f}, "
          f"student ({meta.train_steps} distillation steps) {sum(few_student) / len(few_student):.4f}")


if __name__ == "__main__":
    main()
