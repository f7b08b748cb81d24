"""`kinema generate --prompts-file F` and `kinema generate` under torchrun.

- Many prompts: prompt i (0-based, blank lines and `#` comments skipped) is generated with seed
  `--seed + i` and written to `OUT/NNNN-slug.mp4` (`.png` for 1 frame), whatever the number of
  processes. Under torchrun, rank r takes prompts r, r + world, ...; each video equals the one a
  single process writes. Rank 0 writes `OUT/index.json` (one record per prompt: file, seed, status)
  once every rank is done. Refused prompts are listed there and skipped (exit code 3 at the end).
- One prompt (`generate_one`): in one process, or under torchrun with the ranks sharing each model
  call (`kinema.diffusion.parallel`: the guidance pair split over 2 ranks and/or the token
  sequence split by frames); rank 0 writes it.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from kinema.train.distributed import cpu_process_group

console = Console(stderr=True)
DEFAULT_FOLDER = Path("kinema-videos")


@dataclass(frozen=True)
class Request:
    """The options of one `kinema generate` call, shared by every prompt."""

    output: Path
    size: str
    frames: int
    steps: int
    guidance: float
    seed: int
    solver: str
    weights: Path | None
    lora: Path | None
    lora_scale: float
    enhance: bool
    safety: Any  # kinema.safety.SafetySettings
    parallel: str
    device: str = "cpu"  # cpu, cuda or auto; under torchrun a GPU rank takes cuda:LOCAL_RANK
    distilled: Path | None = None  # a distilled few-step DiT (its own steps and guidance); one process only
    int8: bool = False  # the DiT's block matmuls in int8 (CPU only; kinema.models.int8)
    shift: float | None = None  # sampling timestep shift (None: the resolution shift)
    guidance_interval: tuple[float, float] = (0.0, 1.0)  # guide only while t is in it

    def sampler_options(self) -> dict[str, Any]:
        """The sampling options `Pipeline.generate` takes beyond steps and guidance."""
        return {"solver": self.solver, "shift": self.shift, "guidance_interval": self.guidance_interval}

    def rank_device(self) -> str:
        import os

        import torch

        from kinema.device import pick_device

        chosen = pick_device(self.device)
        if chosen.type == "cuda" and chosen.index is None and "LOCAL_RANK" in os.environ:
            return f"cuda:{int(os.environ['LOCAL_RANK']) % max(1, torch.cuda.device_count())}"
        return str(chosen)

    def load_pipeline(self) -> Any:
        """The weights (plus LoRA) on this process's device, loaded once per process."""
        from kinema.pipeline import load_pipeline

        return load_pipeline(str(self.weights) if self.weights else None, str(self.lora) if self.lora else None,
                             self.lora_scale, self.rank_device(), self.int8)


def read_prompts(path: Path) -> list[str]:
    """One prompt per line; blank lines and lines starting with # are skipped."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"--prompts-file {path} does not exist")
    prompts = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    prompts = [p for p in prompts if p and not p.startswith("#")]
    if not prompts:
        raise ValueError(f"--prompts-file {path} has no prompts (one per line; blank lines and # comments are skipped)")
    return prompts


def output_name(index: int, prompt: str, frames: int) -> str:
    """NNNN-slug.mp4 (or .png for one frame): sorted like the file, readable, never colliding."""
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:48].rstrip("-") or "video"
    return f"{index:04d}-{slug}.{'png' if frames == 1 else 'mp4'}"


def _model_prompt(prompt: str, request: Request, show: bool) -> str:
    if not request.enhance:
        return prompt
    from kinema.pipeline import parse_size
    from kinema.text.enhance import enhance as enhance_prompt

    enhanced = enhance_prompt(prompt, parse_size(request.size), request.frames)
    if show:
        console.print(enhanced.describe(), highlight=False)
    return enhanced.text


def _settings(prompt: str, model_prompt: str, seed: int, request: Request) -> dict[str, Any]:
    settings = {"prompt": prompt, "model_prompt": model_prompt, "size": request.size, "frames": request.frames, "steps": request.steps,
                "guidance": request.guidance, "seed": seed, "solver": request.solver}
    if request.shift is not None:
        settings["shift"] = request.shift
    if tuple(request.guidance_interval) != (0.0, 1.0):
        settings["guidance_interval"] = "{:g},{:g}".format(*request.guidance_interval)  # as the CLI takes it
    if request.lora:
        settings.update({"lora": str(request.lora), "lora_scale": request.lora_scale})
    if request.int8:
        settings["precision"] = "int8"
    return settings


def generate_many(prompts_file: Path, request: Request) -> None:
    from kinema.text.prompt import check_prompt

    prompts = read_prompts(prompts_file)
    for prompt in prompts:
        check_prompt(prompt)
    folder = DEFAULT_FOLDER if request.output == Path("kinema.mp4") else request.output
    if folder.suffix:
        raise ValueError(f"with --prompts-file, -o is a folder for the videos (e.g. -o videos/), not {folder}")
    with cpu_process_group() as (rank, world):
        _generate_share(prompts, prompts_file, folder, rank, world, request)


def _generate_share(prompts: list[str], prompts_file: Path, folder: Path, rank: int, world: int, request: Request) -> None:
    from kinema.diffusion.parallel import gather_objects, shard_items
    from kinema.pipeline import save
    from kinema.safety import RefusedError, enforce_prompt

    folder.mkdir(parents=True, exist_ok=True)
    pipe = request.load_pipeline()
    records = []
    for i in shard_items(len(prompts), rank, world):
        prompt, seed = prompts[i], request.seed + i
        path = folder / output_name(i, prompt, request.frames)
        record: dict[str, Any] = {"index": i, "prompt": prompt, "seed": seed, "file": path.name}
        try:
            enforce_prompt(prompt, request.safety)
            model_prompt = _model_prompt(prompt, request, show=False)
            video = pipe.generate(model_prompt, size=request.size, frames=request.frames, steps=request.steps, guidance=request.guidance,
                                  seed=seed, safety=request.safety, **request.sampler_options())
            save(video, path, model_name=pipe.name, settings=_settings(prompt, model_prompt, seed, request), safety=request.safety)
            record["status"] = "ok"
            console.print(f"[{rank}/{world}] wrote {path}" if world > 1 else f"wrote {path}", highlight=False)
        except RefusedError as error:
            record.update(status="refused", reason=str(error), file=None)
            console.print(f"[{rank}/{world}] prompt {i} refused: {error}", highlight=False)
        records.append(record)
    everything = sorted((r for part in gather_objects(records) for r in part), key=lambda r: r["index"])
    if rank == 0:
        (folder / "index.json").write_text(json.dumps({"prompts_file": str(prompts_file), "processes": world, "videos": everything}, indent=1) + "\n")
        made = sum(r["status"] == "ok" for r in everything)
        console.print(f"{made} of {len(everything)} videos in {folder} ({world} process{'es' if world > 1 else ''}); index: {folder / 'index.json'}")
    if any(r["status"] == "refused" for r in everything):
        raise typer.Exit(3)


def generate_one(prompt: str, request: Request) -> None:
    """One video; under torchrun every model call is spread over the ranks and rank 0 writes it."""
    from kinema.diffusion.parallel import SamplingPlan
    from kinema.safety import enforce_prompt
    from kinema.video import check_output_path

    check_output_path(request.output, request.frames)
    enforce_prompt(prompt, request.safety)  # refuse before loading anything (the raw prompt: enhancing drops unknown words)
    with cpu_process_group() as (rank, world):
        _generate_one(prompt, request, rank, SamplingPlan.choose(world, request.parallel))


def _generate_one(prompt: str, request: Request, rank: int, plan: Any) -> None:
    from rich.progress import Progress

    from kinema.diffusion.parallel import parallel_dit
    from kinema.pipeline import save

    model_prompt = _model_prompt(prompt, request, show=rank == 0)
    steps, guidance = request.steps, request.guidance
    with console.status("loading the model") if rank == 0 else contextlib.nullcontext():
        pipe = request.load_pipeline()
        if request.distilled is not None:
            from kinema.diffusion.distill import with_distilled

            pipe, steps, guidance = with_distilled(pipe, request.distilled)
    where = f" on {plan.world} processes ({plan.batch} x {plan.sequence})" if plan.world > 1 else ""
    with parallel_dit(pipe.dit, plan), Progress(console=console, transient=True, disable=rank != 0) as bar:
        task = bar.add_task(f"generating{where}", total=steps)
        video = pipe.generate(model_prompt, size=request.size, frames=request.frames, steps=steps, guidance=guidance,
                              seed=request.seed, on_step=lambda i, n: bar.update(task, completed=i), safety=request.safety,
                              **request.sampler_options())
    if rank == 0:
        settings = _settings(prompt, model_prompt, request.seed, request) | {"steps": steps, "guidance": guidance}
        save(video, request.output, model_name=pipe.name, settings=settings, safety=request.safety)
        console.print(f"wrote {request.output} ({video.num_frames} frames, {video.size}, {video.duration:.1f} s"
                      f"{f'; {plan.world} processes' if plan.world > 1 else ''})")
