"""`kinema generate`: text to video with the shipped model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from kinema.cli.errors import friendly_errors

console = Console(stderr=True)


@friendly_errors
def generate_command(
    prompt: str = typer.Argument(None, help="What the video shows, e.g. 'a small red ball bounces to the right'."),
    output: Path = typer.Option(Path("kinema.mp4"), "--output", "-o", help="Where to write: .mp4, .gif, .png (1 frame) or a folder."),
    size: str = typer.Option("64x64", help="WIDTHxHEIGHT, multiples of 16 from 32 to 256: 64x64, 96x64 (landscape), 64x96 (portrait), 112x64 (16:9)."),
    frames: int = typer.Option(33, help="1 + 4k frames at 8 fps: 1 (an image), 9, 17, 33 (4 s, default), up to 65."),
    steps: int = typer.Option(20, help="Sampling steps: more is slower and usually cleaner."),
    guidance: float = typer.Option(5.0, help="Classifier-free guidance: how strongly to follow the prompt (1 = off)."),
    seed: int = typer.Option(0, help="Random seed: the same seed and options give the same video."),
    solver: str = typer.Option("euler", help="ODE solver: euler, or heun (2nd order, two model calls a step)."),
    shift: float = typer.Option(None, help="Timestep shift: above 1 spends more of the steps near pure noise, where layout is decided (default: by the clip's size, 1 at 64x64 4 s)."),
    guidance_interval: str = typer.Option("0,1", "--guidance-interval", help="LOW,HIGH: guide only while the noise level t (1 = pure noise) is in this range; outside, one model call a step instead of two."),
    weights: Path = typer.Option(None, help="Weights folder (default: the shipped weights/kinema-tiny, or $KINEMA_WEIGHTS)."),
    lora: Path = typer.Option(None, "--lora", help="LoRA adapters from `kinema finetune` (a folder with lora.safetensors + lora.json) on top of --weights."),
    lora_scale: float = typer.Option(1.0, "--lora-scale", help="How strongly the LoRA applies: 0 = off, 1 = as trained; 0.6-0.9 often keeps more of the base model."),
    enhance: bool = typer.Option(True, "--enhance/--no-enhance", help="Expand a short prompt into the detailed caption style the model was trained on (shown before generating)."),
    no_prompt_check: bool = typer.Option(False, "--no-prompt-check", help="Research only: skip prompt moderation (recorded in the C2PA manifest)."),
    no_frame_check: bool = typer.Option(False, "--no-frame-check", help="Research only: skip the generated-frame check (recorded in the manifest)."),
    no_watermark: bool = typer.Option(False, "--no-watermark", help="Research only: skip the invisible watermark (recorded in the manifest)."),
    prompts_file: Path = typer.Option(None, "--prompts-file", help="Many videos: one prompt per line; prompt i gets seed --seed + i and is written to -o FOLDER/NNNN-slug.mp4 (+ index.json). Under torchrun the processes share the prompts."),
    distilled: Path = typer.Option(None, "--distilled", help="Few-step sampler: a distilled DiT folder (benchmarks/distill_tiny.py); uses its own steps and guidance (4 steps instead of 20). See docs/performance.md."),
    int8: bool = typer.Option(False, "--int8", help="Faster CPU sampling: the transformer's matmuls in int8 (1.1-1.3x faster steps than the default packed fp32, 1.4-1.65x than eager diffusers; the video stays ~37 dB PSNR from fp32's). CPU only; recorded in the C2PA manifest. See docs/performance.md."),
    device: str = typer.Option("cpu", "--device", help="Where the models run: cpu (default), cuda, cuda:N or auto (a GPU if there is one). The seed gives the same video on any device, up to rounding."),
    parallel: str = typer.Option("auto", "--parallel", help="One prompt under torchrun: how processes share each model call: auto, cfg (guidance pair on 2 processes) or sequence (frames split)."),
) -> None:
    """Generate a video from a text prompt.

    The prompt is moderated first (a refusal exits with code 3 and says why), every frame is
    checked, and the file carries an invisible watermark (`kinema detect`) and a signed C2PA
    manifest (`kinema verify`).

    Example: kinema generate "a large blue square slides to the left" --size 96x64 --seed 1 -o square.mp4

    Many prompts, on 4 processes: torchrun --standalone --nproc-per-node 4 --no-python kinema generate --prompts-file prompts.txt -o videos/

    With a fine-tuned LoRA: kinema generate "my clip's caption" --lora runs/finetune/lora --lora-scale 0.8

    Faster on a CPU: kinema generate "a red ball bounces to the right" --int8 --steps 10
    """
    from kinema.cli.generate_many import Request, generate_many, generate_one
    from kinema.device import pick_device
    from kinema.diffusion.sample import SamplerConfig, parse_interval
    from kinema.pipeline import check_frames, parse_size
    from kinema.safety import SafetySettings
    from kinema.text.prompt import check_prompt
    from kinema.train.distributed import launched_by_torchrun

    if prompt is None and prompts_file is None:
        raise ValueError("give a PROMPT, or --prompts-file FILE with one prompt per line")
    if prompt is not None and prompts_file is not None:
        raise ValueError("give either a PROMPT or --prompts-file, not both")
    if distilled is not None and (prompts_file is not None or launched_by_torchrun()):
        raise ValueError("--distilled works with one PROMPT in one process, not with --prompts-file or torchrun")
    chosen = pick_device(device)  # a bad --device fails before anything loads
    if int8 and chosen.type != "cpu":
        raise ValueError(f"--int8 runs on the CPU only; drop it or use --device cpu (got --device {device})")
    parse_size(size)
    check_frames(frames)
    interval = parse_interval(guidance_interval)
    SamplerConfig(steps=steps, guidance=guidance, solver=solver, shift=shift, guidance_interval=interval)  # fail before loading
    if distilled is not None and (shift is not None or interval != (0.0, 1.0)):
        raise ValueError("--distilled samples on its own schedule; drop --shift and --guidance-interval")
    request = Request(output, size, frames, steps, guidance, seed, solver, weights, lora, lora_scale, enhance,
                      SafetySettings(prompt=not no_prompt_check, frames=not no_frame_check, watermark=not no_watermark),
                      parallel, device, distilled, int8, shift, interval)
    if prompts_file is not None:
        return generate_many(prompts_file, request)
    if launched_by_torchrun() and request.rank_device() != "cpu":
        raise ValueError("one video split across torchrun processes runs on CPU processes (gloo) for now; "
                         "on GPUs use --prompts-file to share many prompts, or run without torchrun")
    check_prompt(prompt)
    generate_one(prompt, request)
