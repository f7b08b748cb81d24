"""`kinema world`: render prompts and random clips of the procedural training world."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from kinema.cli.errors import friendly_errors

world_app = typer.Typer(no_args_is_help=True)
console = Console(stderr=True)


def _canvas(size: str) -> tuple[int, int]:
    from kinema.pipeline import parse_size

    return parse_size(size)


@world_app.command("render")
@friendly_errors
def render_command(
    prompt: str = typer.Argument(..., help="A scene in the world's caption grammar, e.g. 'a small red circle bounces to the right'."),
    output: Path = typer.Option(Path("world.mp4"), "--output", "-o", help="Where to write: .mp4, .gif, .png (1 frame) or a folder."),
    size: str = typer.Option("64x64", help="WIDTHxHEIGHT, multiples of 16 from 32 to 256."),
    frames: int = typer.Option(33, help="1 to 65 frames at 8 fps (33 = 4 s)."),
    seed: int = typer.Option(0, help="Seed for what the prompt leaves open (exact start positions, speeds)."),
    truth: Path = typer.Option(None, help="Also write the scene and per-frame ground truth as JSON here."),
) -> None:
    """Render exactly what a prompt describes, with physically exact motion.

    Words the grammar cannot place are named in the error. Examples:

      kinema world render "a small red circle bounces to the right" -o ball.mp4

      kinema world render "two blue boxes slide left on a night background" --size 112x64 -o boxes.gif
    """
    from kinema.video import Video, check_output_path
    from kinema.world.parse import parse_prompt
    from kinema.world.render import render
    from kinema.world.sample import place

    width, height = _canvas(size)
    check_output_path(output, frames)
    scene = place(parse_prompt(prompt, width=width, height=height, frames=frames), seed)
    clip = render(scene)
    Video(clip.frames, scene.fps).write(output)
    if truth is not None:
        truth.write_text(json.dumps({"scene": scene.to_dict(), "truth": clip.truth.to_dict()}))
    console.print(f"wrote {output} ({frames} frames, {width}x{height})")


@world_app.command("sample")
@friendly_errors
def sample_command(
    n: int = typer.Option(16, "--n", help="How many clips."),
    output: Path = typer.Option(Path("world_clips"), "--output", "-o", help="Folder for clip_0000.mp4, its .json (captions, scene, ground truth)."),
    size: str = typer.Option(None, help="WIDTHxHEIGHT for every clip (default: the distribution's mix of sizes)."),
    frames: int = typer.Option(None, help="Frames per clip (default: the distribution's mix)."),
    distribution: str = typer.Option("full", help="Scene distribution preset: simple, medium or full."),
    seed: int = typer.Option(0, help="Seed: the same seed gives the same clips."),
) -> None:
    """Write random world clips with their detailed and short captions and ground truth.

    Example: kinema world sample --n 16 -o clips/
    """
    import numpy as np
    from rich.progress import track

    from kinema.video import Video
    from kinema.world.caption import detailed_caption, short_caption
    from kinema.world.render import render
    from kinema.world.sample import sample_scene

    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}")
    width, height = _canvas(size) if size else (None, None)
    output.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in track(range(n), description="rendering", console=console):
        scene = sample_scene(rng, distribution, width=width, height=height, frames=frames)
        clip = render(scene)
        Video(clip.frames, scene.fps).write(output / f"clip_{i:04d}.mp4")
        record = {
            "detailed_caption": detailed_caption(scene, rng),
            "short_caption": short_caption(scene, rng),
            "scene": scene.to_dict(),
            "truth": clip.truth.to_dict(),
        }
        (output / f"clip_{i:04d}.json").write_text(json.dumps(record))
    console.print(f"wrote {n} clips to {output}/")
