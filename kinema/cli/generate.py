"""`kinema generate`: text to video with the shipped model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from kinema.cli.errors import friendly_errors

console = Console(stderr=True)


@friendly_errors
def generate_command(
    prompt: str = typer.Argument(..., help="What the video shows, e.g. 'a small red ball bounces to the right'."),
    output: Path = typer.Option(Path("kinema.mp4"), "--output", "-o", help="Where to write: .mp4, .gif, .png (1 frame) or a folder."),
    size: str = typer.Option("64x64", help="WIDTHxHEIGHT, multiples of 16 from 32 to 256: 64x64, 96x64 (landscape), 64x96 (portrait), 112x64 (16:9)."),
    frames: int = typer.Option(33, help="1 + 4k frames at 8 fps: 1 (an image), 9, 17, 33 (4 s, default), up to 65."),
    steps: int = typer.Option(20, help="Sampling steps: more is slower and usually cleaner."),
    guidance: float = typer.Option(5.0, help="Classifier-free guidance: how strongly to follow the prompt (1 = off)."),
    seed: int = typer.Option(0, help="Random seed: the same seed and options give the same video."),
    solver: str = typer.Option("euler", help="ODE solver: euler, or heun (2nd order, two model calls a step)."),
    weights: Path = typer.Option(None, help="Weights folder (default: the shipped weights/kinema-tiny, or $KINEMA_WEIGHTS)."),
    lora: Path = typer.Option(None, "--lora", help="LoRA adapters from `kinema finetune` (a folder with lora.safetensors + lora.json) on top of --weights."),
    lora_scale: float = typer.Option(1.0, "--lora-scale", help="How strongly the LoRA applies: 0 = off, 1 = as trained; 0.6-0.9 often keeps more of the base model."),
    enhance: bool = typer.Option(True, "--enhance/--no-enhance", help="Expand a short prompt into the detailed caption style the model was trained on (shown before generating)."),
    no_prompt_check: bool = typer.Option(False, "--no-prompt-check", help="Research only: skip prompt moderation (recorded in the C2PA manifest)."),
    no_frame_check: bool = typer.Option(False, "--no-frame-check", help="Research only: skip the generated-frame check (recorded in the manifest)."),
    no_watermark: bool = typer.Option(False, "--no-watermark", help="Research only: skip the invisible watermark (recorded in the manifest)."),
) -> None:
    """Generate a video from a text prompt.

    The prompt is moderated first (a refusal exits with code 3 and says why), every frame is
    checked, and the file carries an invisible watermark (`kinema detect`) and a signed C2PA
    manifest (`kinema verify`).

    Example: kinema generate "a large blue square slides to the left" --size 96x64 --seed 1 -o square.mp4

    With a fine-tuned LoRA: kinema generate "my clip's caption" --lora runs/finetune/lora --lora-scale 0.8
    """
    from rich.progress import Progress

    from kinema.pipeline import check_frames, load_pipeline, parse_size, save
    from kinema.safety import SafetySettings, enforce_prompt
    from kinema.text.prompt import check_prompt
    from kinema.video import check_output_path

    check_output_path(output, frames)
    width, height = parse_size(size)
    check_frames(frames)
    check_prompt(prompt)
    safety = SafetySettings(prompt=not no_prompt_check, frames=not no_frame_check, watermark=not no_watermark)
    enforce_prompt(prompt, safety)  # refuse before loading anything (the raw prompt: enhancing drops unknown words)
    model_prompt = prompt
    if enhance:
        from kinema.text.enhance import enhance as enhance_prompt

        enhanced = enhance_prompt(prompt, (width, height), frames)
        console.print(enhanced.describe(), highlight=False)
        model_prompt = enhanced.text
    with console.status("loading the model"):
        pipe = load_pipeline(str(weights) if weights else None, str(lora) if lora else None, lora_scale)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("generating", total=steps)
        video = pipe.generate(model_prompt, size=size, frames=frames, steps=steps, guidance=guidance, seed=seed, solver=solver,
                              on_step=lambda i, n: bar.update(task, completed=i), safety=safety)
    settings = {"prompt": prompt, "model_prompt": model_prompt, "size": size, "frames": frames, "steps": steps, "guidance": guidance, "seed": seed, "solver": solver}
    if lora:
        settings.update({"lora": str(lora), "lora_scale": lora_scale})
    save(video, output, model_name=pipe.name, settings=settings, safety=safety)
    console.print(f"wrote {output} ({video.num_frames} frames, {video.size}, {video.duration:.1f} s)")
