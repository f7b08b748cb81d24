"""Sampling with a tiny random DiT, whole or spread over torchrun ranks; rank 0 saves the latents.

    python tests/distributed/sample_job.py OUT.safetensors                     # one process
    torchrun --standalone --nproc-per-node 2 tests/distributed/sample_job.py OUT.safetensors --modes cfg,sequence
"""

from __future__ import annotations

import argparse
import os

import torch
from safetensors.torch import save_file

from kinema.diffusion.parallel import SamplingPlan, parallel_dit
from kinema.diffusion.sample import guided_velocity, sample, timestep_schedule
from kinema.models.dit import DiT, DiTConfig, TextContext

# (name, latent shape): a 3-latent-frame clip splits 2 + 1 frames over 2 ranks; an image cannot split.
CASES = {"clip": (1, 4, 3, 4, 6), "image": (1, 4, 1, 4, 4)}


def text(seed: int, length: int) -> TextContext:
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(1, length, dtype=torch.bool)
    mask[:, length - 1 :] = False
    return TextContext(torch.randn(1, length, 384, generator=g), mask, torch.randn(1, 384, generator=g))


def generate(model: DiT, shape: tuple[int, ...], guidance: float = 4.0) -> torch.Tensor:
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(5))
    velocity = guided_velocity(model, text(1, 5), text(2, 2), guidance)
    return sample(velocity, noise, timestep_schedule(4, shift=1.5), "heun")


def model() -> DiT:
    torch.manual_seed(0)
    dit = DiT(DiTConfig(latent_channels=4, width=32, depth=2, heads=2))
    with torch.no_grad():  # adaLN-Zero starts as the identity; give every path weight
        for p in dit.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return dit.eval()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--modes", default="")
    args = parser.parse_args()
    torch.set_num_threads(1)
    dit = model()
    calls = [0]

    def counting_sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        calls[0] += 1  # a kernel installed with set_attention must still run under sequence parallelism
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    for block in dit.blocks:  # self-attention only: the sequence split replaces exactly that
        block.attn.attention = counting_sdpa
    results = {}
    if not args.modes:
        results = {name: generate(dit, shape) for name, shape in CASES.items()}
    else:
        import torch.distributed as dist

        dist.init_process_group("gloo")
        for mode in args.modes.split(","):
            calls[0] = 0
            with parallel_dit(dit, SamplingPlan.choose(dist.get_world_size(), mode)):
                for name, shape in CASES.items():
                    results[f"{mode}/{name}"] = generate(dit, shape)
            results[f"calls/{mode}"] = torch.tensor(calls[0])
        dist.destroy_process_group()
    if int(os.environ.get("RANK", 0)) == 0:
        save_file({k: v.contiguous() for k, v in results.items()}, args.out)


if __name__ == "__main__":
    main()
